/* The eIM's operator API, the device routes (include/rsp/eim/api.h): register a device with its
 * initial eIM configuration, list devices, a device's view, and the AddInitialEimRequest for the
 * factory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/crypto/x509.h"
#include "rsp/eim/spec.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/msg.h"
#include "api_internal.h"
#include "store_internal.h"

/* The arena of one decoded or parsed message here (an EimConfigurationData, a spec). */
#define API_ARENA_CAP (4u * 1024u * 1024u)

/* ---- devices: shared ------------------------------------------------------------------------- */

bool rsp__eim_api_device_exists(struct rsp__eim_api_ctx *c, const char *eid, rsp_err_t *rc) {
  struct rsp_eim_device d;
  rsp_eim_device_init(&d);
  *rc = rsp_eim_store_device_get(c->o->store, eid, &d);
  rsp_eim_device_free(&d);
  if (*rc == RSP_OK) return true;
  if (*rc == RSP_E_NOT_FOUND)
    *rc = rsp__eim_api_error(c, 404, "not_found", "no device %s", eid);
  else
    *rc = rsp__eim_api_store_error(c, *rc, "device");
  return false;
}

/* The EID just below `eid` in EID order ("...100" -> "...099"); false for the lowest. EIDs are
 * fixed-width digits, so string order is numeric order. */
static bool eid_before(const char *eid, char out[RSP_EID_DIGITS + 1]) {
  memcpy(out, eid, RSP_EID_DIGITS + 1);
  for (size_t i = RSP_EID_DIGITS; i-- > 0;) {
    if (out[i] != '0') {
      out[i]--;
      return true;
    }
    out[i] = '9';
  }
  return false;
}

/* The device's count of open (queued or sent) operations: the store's listing row of the EID,
 * read by starting the listing just below it. */
static rsp_err_t device_pending(struct rsp_eim_store *s, const char *eid, int64_t *pending) {
  struct rsp_eim_device_summary row;
  char before[RSP_EID_DIGITS + 1];
  size_t n = 0;
  rsp_err_t rc = rsp_eim_store_device_list(s, eid_before(eid, before) ? before : NULL, &row, 1, &n);
  *pending = 0;
  if (rc == RSP_OK && n == 1 && strcmp(row.eid, eid) == 0) *pending = row.pending;
  return rc;
}

static json_t *profile_view(const struct rsp_eim_profile *p) {
  const char *cls = rsp__eim_profile_class_name(p->profile_class);
  return json_pack("{s:s, s:s, s:s, s:o}", "iccid", p->iccid, "state",
                   p->state == RSP_EIM_PROFILE_ENABLED ? "enabled" : "disabled", "name", p->name,
                   "class", cls ? json_string(cls) : json_null());
}

/* The profiles of a device as JSON, the same objects in the device view and the list. */
static json_t *profiles_view(const struct rsp_eim_profile *prof, size_t n_prof) {
  json_t *profiles = json_array();
  for (size_t i = 0; profiles && i < n_prof; i++)
    if (json_array_append_new(profiles, profile_view(&prof[i])) != 0) {
      json_decref(profiles);
      profiles = NULL;
    }
  return profiles;
}

/* The device view (api.h, docs/eim-api.yaml "Device"). */
static json_t *device_view(const struct rsp_eim_device *d, const struct rsp_eim_profile *prof,
                           size_t n_prof, int64_t pending) {
  json_t *profiles = profiles_view(prof, n_prof);
  if (!profiles) return NULL;
  return json_pack(
      "{s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:b, s:b, s:o, s:b}", "eid", d->eid,
      "eimId", d->eim_id, "associationToken",
      d->has_association_token ? json_integer((json_int_t)d->association_token) : json_null(),
      "nextCounter", (json_int_t)d->next_counter, "created", (json_int_t)d->created, "lastSeen",
      rsp__eim_api_time(d->last_seen), "rplmn",
      d->has_rplmn ? rsp__eim_api_hex(d->rplmn, sizeof d->rplmn) : json_null(), "enabledIccid",
      d->enabled_iccid[0] ? json_string(d->enabled_iccid) : json_null(), "profiles", profiles,
      "pending", (json_int_t)pending, "certificateKnown", d->euicc_cert.len > 0,
      "eumCertificateKnown", d->eum_cert.len > 0, "euiccInfo2",
      d->euicc_info2.len ? rsp__eim_api_b64(d->euicc_info2.data, d->euicc_info2.len) : json_null(),
      "initialEim", d->initial_config.len > 0);
}

/* Answers the device view of `eid` with `status`. */
static rsp_err_t reply_device(struct rsp__eim_api_ctx *c, const char *eid, int status) {
  struct rsp_eim_device d;
  struct rsp_eim_profile *prof = rsp_malloc(RSP_EIM_PROFILES_MAX * sizeof *prof);
  size_t n_prof = 0;
  int64_t pending = 0;
  rsp_err_t rc;
  rsp_eim_device_init(&d);
  if (!prof) return RSP_E_NOMEM;
  rc = rsp_eim_store_device_get(c->o->store, eid, &d);
  if (rc == RSP_E_NOT_FOUND) {
    rc = rsp__eim_api_error(c, 404, "not_found", "no device %s", eid);
    goto out;
  }
  if (rc == RSP_OK)
    rc = rsp_eim_store_profiles_list(c->o->store, eid, prof, RSP_EIM_PROFILES_MAX, &n_prof);
  if (rc == RSP_OK) rc = device_pending(c->o->store, eid, &pending);
  if (rc != RSP_OK) {
    rc = rsp__eim_api_store_error(c, rc, "device");
    goto out;
  }
  rc = rsp__eim_api_reply(c, status, device_view(&d, prof, n_prof, pending));
out:
  rsp_eim_device_free(&d);
  rsp_free(prof);
  return rc;
}

/* ---- POST /v1/devices ------------------------------------------------------------------------ */

/* What a registration body carries, checked. */
struct reg_req {
  const char *eid;
  const char *eim_id; /* the body's eimId, or NULL */
  bool has_token;
  int64_t token;
  uint8_t *euicc_cert, *eum_cert;
  size_t euicc_cert_len, eum_cert_len;
  json_t *initial; /* the body's initialEim object, or NULL */
};

static void reg_req_free(struct reg_req *r) {
  rsp_free(r->euicc_cert);
  rsp_free(r->eum_cert);
}

/* A certificate field: base64 DER that parses as X.509; for the eUICC's, its subject
 * serialNumber must be the device's EID. */
static bool reg_cert(struct rsp__eim_api_ctx *c, json_t *v, const char *where, const char *eid,
                     uint8_t **der, size_t *len) {
  struct rsp_cert *cert = NULL;
  char serial[80];
  if (!v) return true;
  if (!rsp__eim_api_b64_field(c, v, RSP_EIM_CERT_MAX, where, der, len)) return false;
  if (rsp_cert_parse(*der, *len, &cert) != RSP_OK) {
    rsp__eim_api_error(c, 400, "invalid_request", "%s: not an X.509 certificate (DER)", where);
    return false;
  }
  bool ok = true;
  if (eid) {
    rsp_err_t rc = rsp_cert_subject_serial(cert, serial, sizeof serial);
    if (rc != RSP_OK || strcmp(serial, eid) != 0) {
      rsp__eim_api_error(c, 400, "invalid_request", "%s: issued to EID %s, not %s", where,
                         rc == RSP_OK ? serial : "(none)", eid);
      ok = false;
    }
  }
  rsp_cert_free(cert);
  return ok;
}

static bool reg_parse(struct rsp__eim_api_ctx *c, json_t *body, struct reg_req *r) {
  static const char *const keys[] = {
      "eid", "eimId", "associationToken", "euiccCertificate", "eumCertificate", "initialEim", NULL};
  json_t *v;
  if (!rsp__eim_api_keys_ok(c, body, keys, "body")) return false;
  v = json_object_get(body, "eid");
  if (!v) {
    rsp__eim_api_error(c, 400, "invalid_request", "eid: required");
    return false;
  }
  if (!json_is_string(v) || !rsp__eim_api_eid_ok(json_string_value(v))) {
    rsp__eim_api_error(c, 400, "invalid_request", "eid: 32 decimal digits expected");
    return false;
  }
  r->eid = json_string_value(v);
  if ((v = json_object_get(body, "eimId"))) {
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    if (n == 0 || n > RSP_EIM_ID_MAX || strlen(json_string_value(v)) != n) {
      rsp__eim_api_error(c, 400, "invalid_request", "eimId: 1 to %d bytes of text expected",
                         RSP_EIM_ID_MAX);
      return false;
    }
    r->eim_id = json_string_value(v);
  }
  if ((v = json_object_get(body, "associationToken"))) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > RSP_EIM_COUNTER_MAX) {
      rsp__eim_api_error(c, 400, "invalid_request", "associationToken: an integer 0 to %d",
                         RSP_EIM_COUNTER_MAX);
      return false;
    }
    r->has_token = true;
    r->token = json_integer_value(v);
  }
  if ((v = json_object_get(body, "initialEim")) && !json_is_object(v)) {
    rsp__eim_api_error(c, 400, "invalid_request", "initialEim: an object expected");
    return false;
  }
  r->initial = v;
  return reg_cert(c, json_object_get(body, "euiccCertificate"), "euiccCertificate", r->eid,
                  &r->euicc_cert, &r->euicc_cert_len) &&
         reg_cert(c, json_object_get(body, "eumCertificate"), "eumCertificate", NULL, &r->eum_cert,
                  &r->eum_cert_len);
}

/* The EimConfigurationData of an initialEim object (an EIMCONFIG of spec.h): parsed by the spec
 * parser as the addEim of a one-eCO spec, so both places accept exactly the same forms. */
static bool config_from_json(struct rsp__eim_api_ctx *c, json_t *initial, struct rsp_arena *a,
                             struct rsp_msg_eim_configuration_data **cfg, rsp_err_t *rc) {
  char why[256];
  struct rsp_eim_spec spec;
  json_t *wrap = json_pack("{s:s, s:[{s:O}]}", "kind", "eco", "ecos", "addEim", initial);
  char *text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
  static const char prefix[] = "ecos[0].addEim";
  json_decref(wrap);
  *rc = RSP_OK;
  if (!text) {
    *rc = RSP_E_NOMEM;
    return false;
  }
  why[0] = '\0';
  rsp_err_t e = rsp_eim_spec_parse(text, strlen(text), a, &spec, why, sizeof why);
  free(text);
  if (e == RSP_E_NOMEM) {
    *rc = e;
    return false;
  }
  if (e != RSP_OK || !spec.package || spec.package->which != RSP_MSG_EUICC_PACKAGE_ECO_LIST ||
      !spec.package->u.eco_list || spec.package->u.eco_list->n != 1 ||
      spec.package->u.eco_list->v[0].which != RSP_MSG_ECO_ADD_EIM) {
    const char *w = strncmp(why, prefix, sizeof prefix - 1) == 0 ? why + sizeof prefix - 1 : why;
    *rc = rsp__eim_api_error(c, 400, "invalid_request", "initialEim%s%s",
                             *w == '.' || *w == ':' ? "" : ": ",
                             w[0] ? w : "not a valid eIM configuration");
    return false;
  }
  *cfg = spec.package->u.eco_list->v[0].u.add_eim;
  return true;
}

/* The default EimConfigurationData from the options: our eimId (or the body's), FQDN, signing
 * and TLS certificates, counterValue 0. */
static struct rsp_msg_eim_configuration_data *
config_default(const struct rsp_eim_api_options *o, const char *eim_id, struct rsp_arena *a) {
  struct rsp_msg_eim_configuration_data *cfg = rsp_arena_alloc(a, sizeof *cfg);
  if (!cfg) return NULL;
  cfg->eim_id = rsp_msg_slice(eim_id, strlen(eim_id));
  if (o->eim_fqdn && o->eim_fqdn[0])
    cfg->eim_fqdn = rsp_msg_slice(o->eim_fqdn, strlen(o->eim_fqdn));
  cfg->counter_value = rsp_msg_int_make(0);
  if (o->eim_certificate.p && o->eim_certificate.len) {
    cfg->eim_public_key_data = rsp_arena_alloc(a, sizeof *cfg->eim_public_key_data);
    if (!cfg->eim_public_key_data) return NULL;
    cfg->eim_public_key_data->which =
        RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE;
    cfg->eim_public_key_data->u.eim_certificate = o->eim_certificate;
  }
  if (o->eim_tls_certificate.p && o->eim_tls_certificate.len) {
    cfg->trusted_public_key_data_tls = rsp_arena_alloc(a, sizeof *cfg->trusted_public_key_data_tls);
    if (!cfg->trusted_public_key_data_tls) return NULL;
    cfg->trusted_public_key_data_tls->which =
        RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS;
    cfg->trusted_public_key_data_tls->u.trusted_certificate_tls = o->eim_tls_certificate;
  }
  return cfg;
}

/* Builds the registration's EimConfigurationData (DER in `der`), its eimId (into eim_id) and the
 * next counter. False when answered or *rc set. */
static bool reg_config(struct rsp__eim_api_ctx *c, const struct reg_req *r, struct rsp_arena *a,
                       struct rsp_buf *der, char eim_id[RSP_EIM_ID_MAX + 1], int64_t *next_counter,
                       rsp_err_t *rc) {
  struct rsp_msg_eim_configuration_data *cfg = NULL;
  struct rsp_msg_diag diag;
  *rc = RSP_OK;
  if (r->initial) {
    if (!config_from_json(c, r->initial, a, &cfg, rc)) return false;
    if (cfg->eim_id.len > RSP_EIM_ID_MAX || memchr(cfg->eim_id.p, 0, cfg->eim_id.len)) {
      *rc = rsp__eim_api_error(c, 400, "invalid_request", "initialEim.eimId: 1 to %d bytes",
                               RSP_EIM_ID_MAX);
      return false;
    }
    snprintf(eim_id, RSP_EIM_ID_MAX + 1, "%.*s", (int)cfg->eim_id.len, (const char *)cfg->eim_id.p);
    if (r->eim_id && strcmp(r->eim_id, eim_id) != 0) {
      *rc = rsp__eim_api_error(c, 400, "invalid_request",
                               "eimId \"%.128s\" differs from initialEim.eimId \"%s\"", r->eim_id,
                               eim_id);
      return false;
    }
  } else {
    const char *id = r->eim_id ? r->eim_id : c->o->eim_id;
    if (!id || !id[0]) {
      *rc = rsp__eim_api_error(c, 400, "invalid_request",
                               "eimId: required (this eIM has no default eimId)");
      return false;
    }
    snprintf(eim_id, RSP_EIM_ID_MAX + 1, "%s", id);
    if (!(cfg = config_default(c->o, eim_id, a))) {
      *rc = RSP_E_NOMEM;
      return false;
    }
  }
  int64_t counter = rsp_msg_int_or(cfg->counter_value, 0);
  if (counter < 0 || counter >= RSP_EIM_COUNTER_MAX) {
    *rc = rsp__eim_api_error(c, 400, "invalid_request", "initialEim.counter: 0 to %d expected",
                             RSP_EIM_COUNTER_MAX - 1);
    return false;
  }
  *next_counter = counter + 1; /* the card accepts only counters above the one it holds */
  *rc = rsp_msg_encode(&rsp_msgt_eim_configuration_data, cfg, der, &diag);
  if (*rc == RSP_E_BUF_CAP) {
    *rc = rsp__eim_api_error(c, 413, "too_large", "initialEim: more than %u bytes of DER",
                             RSP_EIM_CONFIG_MAX);
    return false;
  }
  if (*rc != RSP_OK) {
    /* The defaults come from rsp-eim's own files: a failure there is ours, not the client's. */
    if (!r->initial) {
      RSP_LOG_E(RSP__EIM_API_COMP, "default eIM configuration: %s at %s", rsp_strerror(*rc),
                diag.path);
      return false;
    }
    *rc = rsp__eim_api_error(c, 400, "invalid_request", "initialEim: %s at %s", rsp_strerror(*rc),
                             diag.path);
    return false;
  }
  return true;
}

rsp_err_t rsp__eim_api_device_register(struct rsp__eim_api_ctx *c) {
  struct reg_req r;
  struct rsp_arena a;
  struct rsp_buf der;
  char eim_id[RSP_EIM_ID_MAX + 1];
  json_t *body = NULL;
  rsp_err_t rc = RSP_OK;
  memset(&r, 0, sizeof r);
  rsp_arena_init(&a, API_ARENA_CAP);
  rsp_buf_init(&der, RSP_EIM_CONFIG_MAX);
  if (!rsp__eim_api_body(c, RSP_EIM_API_MAX_ITEM_BODY, &body) || !reg_parse(c, body, &r)) goto out;
  struct rsp_eim_device_new d = {.eid = r.eid,
                                 .eim_id = eim_id,
                                 .has_association_token = r.has_token,
                                 .association_token = r.token};
  if (!reg_config(c, &r, &a, &der, eim_id, &d.next_counter, &rc)) goto out;
  d.initial_config = rsp_msg_slice(der.data, der.len);
  if (r.euicc_cert) d.euicc_cert = rsp_msg_slice(r.euicc_cert, r.euicc_cert_len);
  if (r.eum_cert) d.eum_cert = rsp_msg_slice(r.eum_cert, r.eum_cert_len);
  rc = rsp_eim_store_device_register(c->o->store, &d, c->now);
  if (rc == RSP_E_EXISTS) {
    rc = rsp__eim_api_error(c, 409, "exists", "device %s is registered already", r.eid);
    goto out;
  }
  if (rc != RSP_OK) {
    rc = rsp__eim_api_store_error(c, rc, "device");
    goto out;
  }
  RSP_LOG_I(RSP__EIM_API_COMP, "device %s registered (eimId %s, next counter %lld)", r.eid, eim_id,
            (long long)d.next_counter);
  rc = reply_device(c, r.eid, 201);
out:
  reg_req_free(&r);
  json_decref(body);
  rsp_buf_free(&der);
  rsp_arena_free(&a);
  return rc;
}

/* ---- GET /v1/devices ------------------------------------------------------------------------- */

static json_t *summary_view(const struct rsp_eim_device_summary *s) {
  return json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:I}", "eid", s->eid, "eimId", s->eim_id,
                   "nextCounter", (json_int_t)s->next_counter, "created", (json_int_t)s->created,
                   "lastSeen", rsp__eim_api_time(s->last_seen), "enabledIccid",
                   s->enabled_iccid[0] ? json_string(s->enabled_iccid) : json_null(), "pending",
                   (json_int_t)s->pending);
}

/* A row of the list; with `prof` (profiles=true) it carries the device's profiles, read into
 * `prof` (RSP_EIM_PROFILES_MAX entries). NULL with *rc set when the store or memory failed. */
static json_t *list_row(struct rsp__eim_api_ctx *c, const struct rsp_eim_device_summary *row,
                        struct rsp_eim_profile *prof, rsp_err_t *rc) {
  json_t *v = summary_view(row), *profiles;
  size_t n_prof = 0;
  *rc = v ? RSP_OK : RSP_E_NOMEM;
  if (!v || !prof) return v;
  *rc = rsp_eim_store_profiles_list(c->o->store, row->eid, prof, RSP_EIM_PROFILES_MAX, &n_prof);
  /* A device deleted between the two reads would have no profiles; there is no delete today. */
  if (*rc == RSP_E_NOT_FOUND) {
    *rc = RSP_OK;
    n_prof = 0;
  }
  if (*rc == RSP_OK && (!(profiles = profiles_view(prof, n_prof)) ||
                        json_object_set_new(v, "profiles", profiles) != 0))
    *rc = RSP_E_NOMEM;
  if (*rc != RSP_OK) {
    json_decref(v);
    v = NULL;
  }
  return v;
}

/* profiles=true|false; false when answered 400. */
static bool bool_param(struct rsp__eim_api_ctx *c, const char *name, const char *value,
                       bool present, bool *out) {
  *out = false;
  if (!present) return true;
  if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
    *out = value[0] == 't';
    return true;
  }
  rsp__eim_api_error(c, 400, "invalid_request", "%s: true or false expected", name);
  return false;
}

rsp_err_t rsp__eim_api_device_list(struct rsp__eim_api_ctx *c) {
  static const char *const names[] = {"after", "limit", "profiles", NULL};
  char values[3][RSP__EIM_API_QUERY_VALUE_MAX + 1];
  bool present[3], with_profiles;
  size_t limit, n = 0, more = 0;
  struct rsp_eim_device_summary *rows = NULL, probe;
  struct rsp_eim_profile *prof = NULL;
  json_t *list = NULL;
  rsp_err_t rc = RSP_OK;
  if (!rsp__eim_api_query(c, names, values, present) ||
      !rsp__eim_api_limit(c, values[1], present[1], &limit) ||
      !bool_param(c, "profiles", values[2], present[2], &with_profiles))
    return RSP_OK;
  if (present[0] && values[0][0] && !rsp__eim_api_eid_ok(values[0]))
    return rsp__eim_api_error(c, 400, "invalid_request", "after: 32 decimal digits expected");
  if (!(rows = rsp_malloc(limit * sizeof *rows)) || !(list = json_array()) ||
      (with_profiles && !(prof = rsp_malloc(RSP_EIM_PROFILES_MAX * sizeof *prof)))) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  rc = rsp_eim_store_device_list(c->o->store, values[0], rows, limit, &n);
  /* A full page has a next one only if something follows its last row. */
  if (rc == RSP_OK && n == limit)
    rc = rsp_eim_store_device_list(c->o->store, rows[n - 1].eid, &probe, 1, &more);
  if (rc != RSP_OK) {
    rc = rsp__eim_api_store_error(c, rc, "device list");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *row = list_row(c, &rows[i], prof, &rc);
    if (!row) {
      if (rc != RSP_E_NOMEM) rc = rsp__eim_api_store_error(c, rc, "device list");
      goto out;
    }
    if (json_array_append_new(list, row) != 0) {
      rc = RSP_E_NOMEM;
      goto out;
    }
  }
  rc = rsp__eim_api_reply(c, 200,
                          json_pack("{s:O, s:o}", "devices", list, "next",
                                    more ? json_string(rows[n - 1].eid) : json_null()));
out:
  json_decref(list);
  rsp_free(rows);
  rsp_free(prof);
  return rc;
}

/* ---- GET /v1/devices/{eid} ------------------------------------------------------------------- */

rsp_err_t rsp__eim_api_device_show(struct rsp__eim_api_ctx *c) {
  if (c->query && *c->query)
    return rsp__eim_api_error(c, 400, "invalid_request", "no query parameters here");
  return reply_device(c, c->eid, 200);
}

/* ---- GET /v1/devices/{eid}/add-initial-eim --------------------------------------------------- */

/* AddInitialEimRequest (BF57, SGP.32 §5.9.1) carrying the one stored EimConfigurationData. */
static rsp_err_t build_add_initial(const struct rsp_buf *config, struct rsp_arena *a,
                                   struct rsp_buf *out, struct rsp_buf *rendered) {
  struct rsp_msg_eim_configuration_data *cfg = NULL;
  struct rsp_msg_add_initial_eim_request_eim_configuration_data_list list = {0};
  struct rsp_msg_add_initial_eim_request req = {0};
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_eim_configuration_data, config->data, config->len, a,
                                (void **)&cfg, NULL);
  if (rc != RSP_OK) return rc;
  list.v = cfg;
  list.n = 1;
  req.eim_configuration_data_list = &list;
  rc = rsp_msg_encode(&rsp_msgt_add_initial_eim_request, &req, out, NULL);
  if (rc == RSP_OK) rc = rsp_msg_to_json(&rsp_msgt_eim_configuration_data, cfg, false, rendered);
  return rc;
}

rsp_err_t rsp__eim_api_add_initial_eim(struct rsp__eim_api_ctx *c) {
  struct rsp_eim_device d;
  struct rsp_arena a;
  struct rsp_buf der, rendered;
  rsp_err_t rc;
  if (c->query && *c->query)
    return rsp__eim_api_error(c, 400, "invalid_request", "no query parameters here");
  rsp_eim_device_init(&d);
  rsp_arena_init(&a, API_ARENA_CAP);
  rsp_buf_init(&der, RSP_EIM_CONFIG_MAX + 64);
  rsp_buf_init(&rendered, 8 * RSP_EIM_CONFIG_MAX);
  rc = rsp_eim_store_device_get(c->o->store, c->eid, &d);
  if (rc == RSP_E_NOT_FOUND) {
    rc = rsp__eim_api_error(c, 404, "not_found", "no device %s", c->eid);
    goto out;
  }
  if (rc != RSP_OK) {
    rc = rsp__eim_api_store_error(c, rc, "device");
    goto out;
  }
  if (d.initial_config.len == 0) {
    rc = rsp__eim_api_error(c, 404, "not_found", "device %s has no initial eIM configuration",
                            c->eid);
    goto out;
  }
  if ((rc = build_add_initial(&d.initial_config, &a, &der, &rendered)) != RSP_OK) {
    RSP_LOG_E(RSP__EIM_API_COMP, "device %s: stored initial configuration: %s", c->eid,
              rsp_strerror(rc));
    goto out;
  }
  json_t *cfg = json_loadb((const char *)rendered.data, rendered.len, 0, NULL);
  rc = rsp__eim_api_reply(c, 200,
                          json_pack("{s:s, s:o, s:o}", "eid", c->eid, "addInitialEimRequest",
                                    rsp__eim_api_b64(der.data, der.len), "eimConfigurationData",
                                    cfg ? cfg : json_null()));
out:
  rsp_eim_device_free(&d);
  rsp_arena_free(&a);
  rsp_buf_free(&der);
  rsp_buf_free(&rendered);
  return rc;
}
