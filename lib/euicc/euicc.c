/* The software eUICC: identity, the ES10 dispatcher and the commit discipline.
 *
 * Every ES10 request is decoded with lib/msg (one descriptor per function, include/rsp/msg/es10.h)
 * and handed to its handler; a handler that changes the durable state says so, and the
 * dispatcher then commits the whole state at once. If a handler or the commit fails, the state
 * is restored from the last committed document: a command is applied completely or not at all. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "euicc_handlers.h"
#include "euicc_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/msg/es10.h"
#include "rsp/msg/tags.h"

struct handler {
  uint32_t tag;
  euicc_handler_fn fn;
};

static const struct handler handlers[] = {
    {RSP_TAG_GET_EUICC_DATA_REQUEST, rsp__euicc_get_eid},
    {RSP_TAG_GET_EUICC_INFO1_REQUEST, rsp__euicc_get_info1},
    {RSP_TAG_GET_EUICC_INFO2_REQUEST, rsp__euicc_get_info2},
    {RSP_TAG_GET_EUICC_CHALLENGE_REQUEST, rsp__euicc_get_challenge},
    {RSP_TAG_EUICC_CONFIGURED_ADDRESSES_REQUEST, rsp__euicc_get_addresses},
    {RSP_TAG_SET_DEFAULT_DP_ADDRESS_REQUEST, rsp__euicc_set_default_dp},
    {RSP_TAG_SGP32_SET_DEFAULT_DP_ADDRESS_REQUEST, rsp__euicc_set_default_dp32},
    {RSP_TAG_PROFILE_INFO_LIST_REQUEST, rsp__euicc_get_profiles_info},
    {RSP_TAG_ENABLE_PROFILE_REQUEST, rsp__euicc_enable_profile},
    {RSP_TAG_DISABLE_PROFILE_REQUEST, rsp__euicc_disable_profile},
    {RSP_TAG_DELETE_PROFILE_REQUEST, rsp__euicc_delete_profile},
    {RSP_TAG_SET_NICKNAME_REQUEST, rsp__euicc_set_nickname},
    {RSP_TAG_LIST_NOTIFICATION_REQUEST, rsp__euicc_list_notification},
    {RSP_TAG_RETRIEVE_NOTIFICATIONS_LIST_REQUEST, rsp__euicc_retrieve_notifications},
    {RSP_TAG_NOTIFICATION_SENT_REQUEST, rsp__euicc_remove_notification},
    {RSP_TAG_EUICC_MEMORY_RESET_REQUEST, rsp__euicc_memory_reset},
    {RSP_TAG_SGP32_EUICC_MEMORY_RESET_REQUEST, rsp__euicc_memory_reset32},
    {RSP_TAG_GET_RAT_REQUEST, rsp__euicc_get_rat},
    {RSP_TAG_LOAD_CRL_REQUEST, rsp__euicc_load_crl},
    {RSP_TAG_AUTHENTICATE_SERVER_REQUEST, rsp__euicc_authenticate_server},
    {RSP_TAG_PREPARE_DOWNLOAD_REQUEST, rsp__euicc_prepare_download},
    {RSP_TAG_CANCEL_SESSION_REQUEST, rsp__euicc_cancel_session},
    {RSP_TAG_EUICC_PACKAGE_REQUEST, rsp__euicc_load_euicc_package},
    {RSP_TAG_GET_EIM_CONFIGURATION_DATA_REQUEST, rsp__euicc_get_eim_configuration},
    {RSP_TAG_GET_CERTS_REQUEST, rsp__euicc_get_certs},
    {RSP_TAG_ADD_INITIAL_EIM_REQUEST, rsp__euicc_add_initial_eim},
    {RSP_TAG_PROFILE_ROLLBACK_REQUEST, rsp__euicc_profile_rollback},
    {RSP_TAG_CONFIGURE_IMMEDIATE_PROFILE_ENABLING_REQUEST, rsp__euicc_configure_immediate},
    {RSP_TAG_IMMEDIATE_ENABLE_REQUEST, rsp__euicc_immediate_enable},
    {RSP_TAG_ENABLE_EMERGENCY_PROFILE_REQUEST, rsp__euicc_enable_emergency},
    {RSP_TAG_DISABLE_EMERGENCY_PROFILE_REQUEST, rsp__euicc_disable_emergency},
    {RSP_TAG_EXECUTE_FALLBACK_MECHANISM_REQUEST, rsp__euicc_execute_fallback},
    {RSP_TAG_RETURN_FROM_FALLBACK_REQUEST, rsp__euicc_return_from_fallback},
    {RSP_TAG_GET_CONNECTIVITY_PARAMETERS_REQUEST, rsp__euicc_get_connectivity},
    {RSP_TAG_IPAE_ACTIVATION_REQUEST, rsp__euicc_ipae_activation},
};

/* ---- identity ----------------------------------------------------------------------------------
 */

static rsp_err_t load_identity(struct rsp_euicc *c, const struct rsp_euicc_options *o) {
  char path[4096];
  rsp_err_t rc;
  snprintf(path, sizeof path, "%s/euicc/%s/cert.der", o->pki_dir, o->eid);
  if ((rc = rsp_cert_load_file(path, &c->cert)) != RSP_OK) goto fail;
  snprintf(path, sizeof path, "%s/euicc/%s/key.pem", o->pki_dir, o->eid);
  if ((rc = rsp_signer_inproc_load(path, &c->signer)) != RSP_OK) goto fail;
  snprintf(path, sizeof path, "%s/eum/cert.der", o->pki_dir);
  if ((rc = rsp_cert_load_file(path, &c->eum_cert)) != RSP_OK) goto fail;
  snprintf(path, sizeof path, "%s/ci/cert.der", o->pki_dir);
  if ((rc = rsp_ci_store_new(&c->cis)) != RSP_OK) goto fail;
  if ((rc = rsp_ci_store_add_file(c->cis, path)) != RSP_OK) goto fail;
  c->curve = rsp_key_curve(rsp_signer_public_key(c->signer));
  return RSP_OK;
fail:
  rsp_log(RSP_LOG_ERROR, "euicc", "card %s: cannot load %s: %s", o->eid, path, rsp_strerror(rc));
  return rc;
}

/* What a card gets at manufacture beyond its identity: the root SM-DS address. */
static rsp_err_t new_card(struct rsp_euicc *c, const struct rsp_euicc_options *o) {
  if (!o->root_ds_address) return RSP_OK;
  if (strlen(o->root_ds_address) >= sizeof c->st.root_ds) return RSP_E_INVALID_ARG;
  snprintf(c->st.root_ds, sizeof c->st.root_ds, "%s", o->root_ds_address);
  return RSP_OK;
}

rsp_err_t rsp_euicc_open(const struct rsp_euicc_options *o, struct rsp_euicc **out) {
  struct rsp_euicc *c = rsp_calloc(1, sizeof *c);
  char *json = NULL;
  rsp_err_t rc = RSP_E_NOMEM;
  if (!c) return RSP_E_NOMEM;
  rsp__euicc_state_init(&c->st);
  if (!o->pki_dir || !o->eid || rsp_eid_from_string(o->eid, c->eid) != RSP_OK) {
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  snprintf(c->eid_digits, sizeof c->eid_digits, "%s", o->eid);
  c->opts = *o;
  c->store = o->store;
  if ((rc = load_identity(c, o)) != RSP_OK) goto out;
  if ((rc = rsp__euicc_apdu_new(&c->apdu)) != RSP_OK) goto out;
  if (c->store) {
    rc = rsp__euicc_store_load(c->store, c->eid_digits, &json);
    if (rc == RSP_OK)
      rc = rsp__euicc_state_from_json(json, &c->st);
    else if (rc == RSP_E_NOT_FOUND)
      rc = new_card(c, o); /* a new card */
    if (rc != RSP_OK) goto out;
  } else {
    rc = new_card(c, o);
    if (rc != RSP_OK) goto out;
  }
  rc = rsp__euicc_commit(c);
out:
  rsp_free(json);
  if (rc != RSP_OK) {
    rsp_euicc_destroy(c);
    return rc;
  }
  *out = c;
  return RSP_OK;
}

void rsp_euicc_destroy(struct rsp_euicc *c) {
  if (!c) return;
  rsp__euicc_download_free(c);
  rsp__euicc_apdu_free(c->apdu);
  rsp__euicc_state_free(&c->st);
  rsp_free(c->committed);
  rsp_cert_free(c->cert);
  rsp_cert_free(c->eum_cert);
  rsp_signer_destroy(c->signer);
  rsp_ci_store_free(c->cis);
  rsp_free(c);
}

const char *rsp_euicc_eid(const struct rsp_euicc *c) { return c->eid_digits; }

void rsp_euicc_reset(struct rsp_euicc *c) {
  rsp__euicc_apdu_reset(c->apdu);
  rsp__euicc_download_reset(c);
  c->challenge_valid = false;
}

int64_t rsp__euicc_now(const struct rsp_euicc *c) {
  return c->opts.now ? c->opts.now(c->opts.now_ctx) : (int64_t)time(NULL);
}

rsp_err_t rsp__euicc_sign(struct rsp_euicc *c, const struct rsp_slice *parts, size_t n,
                          uint8_t sig[64]) {
  return rsp_signer_sign_v(c->signer, parts, n, sig);
}

rsp_err_t rsp__euicc_encode(const struct rsp_msg_type *t, const void *v, struct rsp_buf *resp) {
  struct rsp_msg_diag diag;
  rsp_err_t rc = rsp_msg_encode(t, v, resp, &diag);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "euicc", "cannot encode %s: %s at %s", t->name, rsp_err_name(rc),
            diag.path);
  return rc;
}

/* ---- commit ------------------------------------------------------------------------------------
 */

void (*rsp__euicc_fault_hook)(const char *point);

rsp_err_t rsp__euicc_commit(struct rsp_euicc *c) {
  char *json = NULL;
  rsp_err_t rc = rsp__euicc_state_to_json(&c->st, &json);
  if (rsp__euicc_fault_hook) rsp__euicc_fault_hook("commit:before");
  if (rc == RSP_OK && c->store) rc = rsp__euicc_store_save(c->store, c->eid_digits, json);
  if (rsp__euicc_fault_hook) rsp__euicc_fault_hook("commit:after");
  if (rc != RSP_OK) {
    rsp_free(json);
    return rc;
  }
  rsp_free(c->committed);
  c->committed = json;
  return RSP_OK;
}

rsp_err_t rsp__euicc_restore(struct rsp_euicc *c, const char *json) {
  char *copy = rsp_strdup(json);
  if (!copy) return RSP_E_NOMEM;
  rsp_euicc_reset(c);
  rsp_free(c->committed);
  c->committed = copy;
  rsp__euicc_rollback(c);
  return rsp__euicc_commit(c);
}

void rsp__euicc_rollback(struct rsp_euicc *c) {
  rsp__euicc_state_free(&c->st);
  rsp__euicc_state_init(&c->st);
  if (c->committed && rsp__euicc_state_from_json(c->committed, &c->st) != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "euicc", "card %s: cannot restore the committed state", c->eid_digits);
}

/* ---- dispatch ----------------------------------------------------------------------------------
 */

static const struct handler *find_handler(uint32_t tag) {
  for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
    if (handlers[i].tag == tag) return &handlers[i];
  return NULL;
}

static rsp_err_t run_function(struct rsp_euicc *c, const struct handler *h,
                              const struct rsp_der_tlv *tlv, struct rsp_buf *resp) {
  struct rsp_arena a;
  struct rsp_msg_diag diag;
  const struct rsp_es10_function *fn = rsp_es10_function_by_tag(h->tag);
  void *req = NULL;
  bool changed = false;
  size_t start = resp->len;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_msg_decode_tlv(fn->request, tlv, &a, &req, &diag);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_INFO, "euicc", "card %s: malformed %s: %s at %s", c->eid_digits, fn->name,
            rsp_err_name(rc), diag.path);
    goto out;
  }
  rsp_log(RSP_LOG_DEBUG, "euicc", "card %s: %s", c->eid_digits, fn->name);
  rc = h->fn(c, req, &a, resp, &changed);
  if (rc == RSP_OK && changed) rc = rsp__euicc_commit(c);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "euicc", "card %s: %s failed: %s; state unchanged", c->eid_digits,
            fn->name, rsp_strerror(rc));
    resp->len = start;
    rsp__euicc_rollback(c);
  }
out:
  rsp_arena_free(&a);
  return rc;
}

rsp_err_t rsp__euicc_es10(struct rsp_euicc *c, const uint8_t *req, size_t len,
                          struct rsp_buf *resp) {
  struct rsp_der_tlv tlv;
  rsp_err_t rc;
  /* BoundProfilePackage segments are not complete TLVs (SGP.22 §2.5.5) */
  if (rsp__euicc_bpp_accepts(c, req, len)) {
    size_t start = resp->len;
    rc = rsp__euicc_bpp_segment(c, req, len, resp);
    if (rc != RSP_OK) resp->len = start;
    return rc;
  }
  if ((rc = rsp_der_parse_one(req, len, &tlv)) != RSP_OK) return rc;
  const struct handler *h = find_handler(tlv.tag);
  if (!h) {
    rsp_log(RSP_LOG_INFO, "euicc", "card %s: no ES10 function has tag %X", c->eid_digits, tlv.tag);
    return RSP_E_UNSUPPORTED;
  }
  return run_function(c, h, &tlv, resp);
}

rsp_err_t rsp_euicc_es10(struct rsp_euicc *c, const uint8_t *req, size_t len,
                         struct rsp_buf *resp) {
  return rsp__euicc_es10(c, req, len, resp);
}
