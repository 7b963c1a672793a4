/* The SM-DS service (include/rsp/smdp/smds.h): ES12 for SM-DP+s (SGP.22 §5.5) and ES11 for
 * LPAs and IPAs (§5.8), the event registration and retrieval of §3.6.
 *
 * An SM-DS authenticates the eUICC exactly as an SM-DP+ does in its first two ES9+ functions, so
 * it is one: a struct rsp_smdp_service whose identity carries CERT.DSauth instead of CERT.DPauth
 * and whose address is the SM-DS's. Its functions run through the same transaction wrapper
 * (rsp__smdp_run), open and load sessions with the same code and store, and verify the card's
 * AuthenticateServerResponse with bind.c (rsp__smdp_ac_verify); what is its own is the events
 * (table smds_event) and the answer of authenticateClient, the eventEntries of the EID. */
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "smdp_internal.h"

struct rsp_smds_service {
  struct rsp_smdp_service base; /* identity = CERT.DSauth, address = the SM-DS's */
};

/* ---- lifecycle --------------------------------------------------------------------------------
 */

rsp_err_t rsp_smds_service_open(const struct rsp_smds_service_options *o,
                                struct rsp_smds_service **out) {
  struct rsp_smds_service *svc = NULL;
  rsp_err_t rc = RSP_E_INTERNAL;
  if (!out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if (!o || !o->db_path || !o->identity || !o->identity->auth || !o->address || !o->address[0] ||
      strlen(o->address) > RSP_SMDP_ADDRESS_MAX || o->session_ttl < 0)
    return RSP_E_INVALID_ARG;
  if (!(svc = rsp_calloc(1, sizeof *svc))) return RSP_E_NOMEM;
  svc->base.id = o->identity;
  snprintf(svc->base.address, sizeof svc->base.address, "%s", o->address);
  snprintf(svc->base.requester_id, sizeof svc->base.requester_id, "%s", o->address);
  svc->base.session_ttl = o->session_ttl ? o->session_ttl : RSP_SMDP_SESSION_TTL_DEFAULT;
  svc->base.now = o->now;
  svc->base.now_ctx = o->now_ctx;
  if ((rc = rsp__smdp_db_open(o->db_path, &svc->base.db)) != RSP_OK) {
    rsp_smds_service_destroy(svc);
    return rc;
  }
  *out = svc;
  return RSP_OK;
}

void rsp_smds_service_destroy(struct rsp_smds_service *svc) {
  if (!svc) return;
  rsp__smdp_db_close(svc->base.db);
  rsp_free(svc);
}

/* ---- ES11.InitiateAuthentication --------------------------------------------------------------
 */

static rsp_err_t initiate_authentication(struct rsp_smdp_service *svc, const void *vreq,
                                         struct rsp_msg_json_doc *mem, void *vresp,
                                         struct rsp__smdp_refusal *ref) {
  const struct rsp_es11_json_initiate_authentication_req *q = vreq;
  rsp__smdp_ia_check(svc, q->smds_address, q->euicc_info1, RSP_SMDS_SUBJECT_SMDS_ADDRESS,
                     RSP_SMDS_SUBJECT_SECURITY_CONFIGURATION, ref);
  return ref->set ? RSP_OK : rsp__smdp_ia_open(svc, q->euicc_challenge, mem, vresp);
}

rsp_err_t rsp_smds_es11_initiate_authentication(
    struct rsp_smds_service *svc, const struct rsp_es11_json_initiate_authentication_req *req,
    struct rsp_msg_json_doc *mem, struct rsp_es9p_json_initiate_authentication_resp *resp) {
  if (!svc) return RSP_E_INVALID_ARG;
  return rsp__smdp_run(&svc->base, initiate_authentication, req, mem, resp, sizeof *resp);
}

/* ---- ES11.AuthenticateClient ------------------------------------------------------------------
 */

/* An eventId from ctxParams1's matchingId selects one event (the LPA follows an event id it was
 * given, SGP.22 §3.6.3); without one every event of the EID is answered. */
static bool event_wanted(const struct rsp_smdp_session *s, const struct rsp_smds_event_info *e) {
  if (!s->has_matching_id || s->matching_id_len == 0) return true;
  return strlen(e->event_id) == s->matching_id_len &&
         memcmp(e->event_id, s->matching_id, s->matching_id_len) == 0;
}

/* eventEntries in mem: the events of the session's EID, oldest first. */
static rsp_err_t ac_events(struct rsp_smdp_service *svc, const struct rsp_smdp_session *s,
                           struct rsp_msg_json_doc *mem,
                           struct rsp_es11_json_authenticate_client_resp *resp, size_t *count) {
  char eid[RSP_EID_DIGITS + 1];
  size_t n = 0, k = 0;
  struct rsp_smds_event_info *ev = rsp_calloc(RSP_SMDS_EVENTS_MAX, sizeof *ev);
  struct rsp_es11_json_event_entry *items =
      rsp_arena_alloc(&mem->arena, RSP_SMDS_EVENTS_MAX * sizeof *items);
  rsp_err_t rc = ev && items ? rsp_eid_to_string(s->eid, eid) : RSP_E_NOMEM;
  if (rc == RSP_OK) rc = rsp__smds_events_list(svc->db, eid, ev, RSP_SMDS_EVENTS_MAX, &n);
  for (size_t i = 0; rc == RSP_OK && i < n; i++) {
    if (!event_wanted(s, &ev[i])) continue;
    rc = rsp__smdp_mem_str(mem, ev[i].event_id, &items[k].event_id);
    if (rc == RSP_OK)
      rc = rsp__smdp_mem_str(mem, ev[i].rsp_server_address, &items[k].rsp_server_address);
    k++;
  }
  if (rc == RSP_OK) {
    resp->event_entries = (struct rsp_msg_json_array){items, k};
    *count = k;
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "SM-DS: %zu event%s for EID %s", k, k == 1 ? "" : "s",
            eid);
  }
  rsp_free(ev);
  return rc;
}

static rsp_err_t authenticate_client(struct rsp_smdp_service *svc, const void *vreq,
                                     struct rsp_msg_json_doc *mem, void *vresp,
                                     struct rsp__smdp_refusal *ref) {
  const struct rsp_es9p_json_authenticate_client_req *q = vreq;
  struct rsp_es11_json_authenticate_client_resp *resp = vresp;
  struct rsp__smdp_session_row row;
  size_t n = 0;
  rsp_err_t rc =
      rsp__smdp_session_load(svc, q->transaction_id, RSP_SMDP_STAGE_AUTH_SENT, &row, ref);
  if (rc != RSP_OK || ref->set) goto out;
  rc = rsp__smdp_ac_verify(svc, &row, q->authenticate_server_response, ref);
  if (rc == RSP_OK && !ref->set) rc = ac_events(svc, &row.s, mem, resp, &n);
  if (rc == RSP_OK && !ref->set)
    rc = rsp__smdp_mem_dup(mem, row.s.transaction_id, row.s.transaction_id_len,
                           &resp->transaction_id);
  /* the retrieval is one exchange: the session ends with its answer, refused or not */
  if (rc == RSP_OK) rc = rsp__smdp_session_close(svc, &row);
out:
  rsp_smdp_session_free(&row.s);
  return rc;
}

rsp_err_t rsp_smds_es11_authenticate_client(struct rsp_smds_service *svc,
                                            const struct rsp_es9p_json_authenticate_client_req *req,
                                            struct rsp_msg_json_doc *mem,
                                            struct rsp_es11_json_authenticate_client_resp *resp) {
  if (!svc) return RSP_E_INVALID_ARG;
  return rsp__smdp_run(&svc->base, authenticate_client, req, mem, resp, sizeof *resp);
}

/* ---- ES12 ------------------------------------------------------------------------------------
 */

/* The EID of an ES12 request as 32 digits (the binding checked its form). */
static bool es12_eid(struct rsp_slice eid, char out[RSP_EID_DIGITS + 1],
                     struct rsp__smdp_refusal *ref) {
  if (eid.len == RSP_EID_LEN && rsp_eid_to_string(eid.p, out) == RSP_OK) return true;
  rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_FORMAT, "EID is not 32 digits");
  return false;
}

static rsp_err_t register_event(struct rsp_smdp_service *svc, const void *vreq,
                                struct rsp_msg_json_doc *mem, void *vresp,
                                struct rsp__smdp_refusal *ref) {
  const struct rsp_es12_json_register_event_req *q = vreq;
  struct rsp_smds_event_info e;
  bool added = false;
  (void)mem;
  (void)vresp;
  memset(&e, 0, sizeof e);
  if (!es12_eid(q->eid, e.eid, ref)) return RSP_OK;
  snprintf(e.event_id, sizeof e.event_id, "%s", q->event_id);
  snprintf(e.rsp_server_address, sizeof e.rsp_server_address, "%s", q->rsp_server_address);
  rsp_err_t rc = rsp__smds_event_add(svc->db, &e, rsp_msg_bool_or(q->forwarding_indicator, false),
                                     rsp__smdp_now(svc), &added);
  if (rc == RSP_OK)
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "SM-DS: event %s for EID %s at %s %s", e.event_id, e.eid,
            e.rsp_server_address, added ? "registered" : "already registered");
  return rc;
}

rsp_err_t rsp_smds_es12_register_event(struct rsp_smds_service *svc,
                                       const struct rsp_es12_json_register_event_req *req,
                                       struct rsp_msg_json_doc *mem,
                                       struct rsp_es12_json_register_event_resp *resp) {
  if (!svc) return RSP_E_INVALID_ARG;
  return rsp__smdp_run(&svc->base, register_event, req, mem, resp, sizeof *resp);
}

static rsp_err_t delete_event(struct rsp_smdp_service *svc, const void *vreq,
                              struct rsp_msg_json_doc *mem, void *vresp,
                              struct rsp__smdp_refusal *ref) {
  const struct rsp_es12_json_delete_event_req *q = vreq;
  char eid[RSP_EID_DIGITS + 1];
  size_t n = 0;
  (void)mem;
  (void)vresp;
  if (!es12_eid(q->eid, eid, ref)) return RSP_OK;
  rsp_err_t rc = rsp__smds_event_delete(svc->db, eid, q->event_id, &n);
  if (rc == RSP_OK && n == 0)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_UNKNOWN, "no event %s for this EID",
                     q->event_id);
  else if (rc == RSP_OK)
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "SM-DS: event %s for EID %s deleted", q->event_id, eid);
  return rc;
}

rsp_err_t rsp_smds_es12_delete_event(struct rsp_smds_service *svc,
                                     const struct rsp_es12_json_delete_event_req *req,
                                     struct rsp_msg_json_doc *mem,
                                     struct rsp_es12_json_delete_event_resp *resp) {
  if (!svc) return RSP_E_INVALID_ARG;
  return rsp__smdp_run(&svc->base, delete_event, req, mem, resp, sizeof *resp);
}

/* ---- the generic JSON entry -------------------------------------------------------------------
 */

static rsp_err_t h_initiate_authentication(struct rsp_smdp_service *s, const void *q,
                                           struct rsp_msg_json_doc *m, void *r) {
  return rsp__smdp_run(s, initiate_authentication, q, m, r,
                       sizeof(struct rsp_es9p_json_initiate_authentication_resp));
}
static rsp_err_t h_authenticate_client(struct rsp_smdp_service *s, const void *q,
                                       struct rsp_msg_json_doc *m, void *r) {
  return rsp__smdp_run(s, authenticate_client, q, m, r,
                       sizeof(struct rsp_es11_json_authenticate_client_resp));
}
static rsp_err_t h_register_event(struct rsp_smdp_service *s, const void *q,
                                  struct rsp_msg_json_doc *m, void *r) {
  return rsp__smdp_run(s, register_event, q, m, r,
                       sizeof(struct rsp_es12_json_register_event_resp));
}
static rsp_err_t h_delete_event(struct rsp_smdp_service *s, const void *q,
                                struct rsp_msg_json_doc *m, void *r) {
  return rsp__smdp_run(s, delete_event, q, m, r, sizeof(struct rsp_es12_json_delete_event_resp));
}

/* ES11 on the ES9+ paths (what LPAs call SM-DSs with, notes §6) and on its own paths; ES12 on its
 * paths (docs/adr/0007-smds-es11-paths.md). */
static const struct rsp__smdp_route smds_routes[] = {
    {RSP_MSG_JSON_FUNC_ES11_INITIATE_AUTHENTICATION, RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
     h_initiate_authentication, RSP_SMDP_SUBJECT_EUICC},
    {RSP_MSG_JSON_FUNC_ES11_INITIATE_AUTHENTICATION, NULL, h_initiate_authentication,
     RSP_SMDP_SUBJECT_EUICC},
    {RSP_MSG_JSON_FUNC_ES11_AUTHENTICATE_CLIENT, RSP_ES9P_PATH_AUTHENTICATE_CLIENT,
     h_authenticate_client, RSP_SMDP_SUBJECT_EUICC},
    {RSP_MSG_JSON_FUNC_ES11_AUTHENTICATE_CLIENT, NULL, h_authenticate_client,
     RSP_SMDP_SUBJECT_EUICC},
    {RSP_MSG_JSON_FUNC_ES12_REGISTER_EVENT, NULL, h_register_event, RSP_SMDP_SUBJECT_EID},
    {RSP_MSG_JSON_FUNC_ES12_DELETE_EVENT, NULL, h_delete_event, RSP_SMDP_SUBJECT_EID},
};

rsp_err_t rsp_smds_service_handle(struct rsp_smds_service *svc, const char *path, const char *body,
                                  size_t len, int *http_status, struct rsp_buf *response) {
  if (!svc) return RSP_E_INVALID_ARG;
  return rsp__smdp_handle_json(&svc->base, smds_routes, sizeof smds_routes / sizeof smds_routes[0],
                               path, body, len, http_status, response);
}

bool rsp_smds_path_is_es12(const char *path) {
  enum rsp_msg_json_func f = rsp_msg_json_func_from_path(path);
  return f == RSP_MSG_JSON_FUNC_ES12_REGISTER_EVENT || f == RSP_MSG_JSON_FUNC_ES12_DELETE_EVENT;
}

/* ---- the operator's view ----------------------------------------------------------------------
 */

rsp_err_t rsp_smds_service_events(struct rsp_smds_service *svc, const char *eid,
                                  struct rsp_smds_event_info *out, size_t max, size_t *count) {
  if (!svc || (!out && max) || !count) return RSP_E_INVALID_ARG;
  return rsp__smds_events_list(svc->base.db, eid, out, max, count);
}

rsp_err_t rsp_smds_service_expire(struct rsp_smds_service *svc, size_t *sessions) {
  size_t n = 0;
  if (!svc) return RSP_E_INVALID_ARG;
  rsp_err_t rc = rsp__smdp_begin(svc->base.db);
  if (rc == RSP_OK)
    rc = rsp__smdp_end(svc->base.db,
                       rsp__smdp_sessions_purge(
                           svc->base.db, rsp__smdp_now(&svc->base) - RSP__SMDP_SESSION_KEEP, &n));
  if (sessions) *sessions = rc == RSP_OK ? n : 0;
  return rc;
}
