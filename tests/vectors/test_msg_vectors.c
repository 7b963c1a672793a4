/* Every row of shared/vectors/traces.tsv through lib/msg, plus the real eIM package traces of
 * shared/docs/sgp32-notes.md sections 3.1 and 3.4.
 *
 * For each der-hex row the descriptor comes from the message_type column (the production named
 * first, and any production named in the parentheses, such as the ESipa CHOICE that carries it).
 * The bytes must decode, re-encode to exactly the same bytes, keep the whole input as the top-level
 * `raw` (signatures are verified over received bytes), and every truncated prefix must be
 * rejected. Then one check function per row (or per message family) asserts, through the typed
 * structs, the values the `expected` column lists; they are transcribed from that column and from
 * the notes, never taken from our own output. Text rows are activation codes (SGP.22 section 4.1).
 *
 * Elements the v2.5/v1.2 modules do not define (GO-05's BF76) are kept as extensions and must
 * come back in place on re-encoding. The v1.0 ProvideEimPackageResult of notes 3.4 is not a valid
 * v1.2 message (its notification list sits where v1.2 has a mandatory [0]); it must be rejected by
 * the v1.2 descriptors and read whole by the v1.0 one (lib/msg/sgp32_v10.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/der/der.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/sgp32_v10.h"
#include "rsp/msg/tags.h"
#include "test.h"

/* StoreMetadataRequest of GO-05 carries an element the SGP.22 v2.5 module does not define; the
 * vector's expected column calls it refArDo: GlobalPlatform SE Access Control REF-AR-DO (E2)
 * holding REF-DO (E1) with DeviceAppID-REF-DO (C1), and AR-DO (E3) with PERM-AR-DO (DB). */
#define TAG_REF_AR_DO_EXTENSION 0xBF76u
#define TAG_GP_REF_AR_DO 0xE2u
#define TAG_GP_REF_DO 0xE1u
#define TAG_GP_DEVICE_APP_ID_REF_DO 0xC1u
#define TAG_GP_AR_DO 0xE3u
#define TAG_GP_PERM_AR_DO 0xDBu

#define MAX_NAMES 4

/* ---- helpers --------------------------------------------------------------------------------- */

static void print_hex(const char *what, const uint8_t *p, size_t n) {
  fprintf(stderr, "  %s (%zu bytes): ", what, n);
  for (size_t i = 0; i < n && i < 64; i++) fprintf(stderr, "%02X", p[i]);
  fprintf(stderr, "%s\n", n > 64 ? "..." : "");
}

/* True when the slice holds exactly the bytes of `hex`. */
static bool slice_hex(struct rsp_slice s, const char *hex) {
  size_t n;
  uint8_t *want = rsp_test_hex(hex, &n);
  bool ok = s.p && s.len == n && memcmp(s.p, want, n) == 0;
  if (!ok && s.p) print_hex("got", s.p, s.len);
  rsp_free(want);
  return ok;
}

/* True when the slice holds exactly the characters of `text` (no NUL). */
static bool slice_text(struct rsp_slice s, const char *text) {
  return s.p && s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

static bool slice_is_all(struct rsp_slice s, size_t len, uint8_t byte) {
  if (!s.p || s.len != len) return false;
  for (size_t i = 0; i < len; i++)
    if (s.p[i] != byte) return false;
  return true;
}

#define CHECK_HEX(s, hex) CHECK(slice_hex((s), (hex)))
#define CHECK_TEXT(s, text) CHECK(slice_text((s), (text)))
#define CHECK_ABSENT(s) CHECK((s).p == NULL)
/* The chosen CHOICE alternative; the caller stops when it is another (the union would lie). */
#define REQUIRE_WHICH(got, want)                                                                   \
  do {                                                                                             \
    CHECK_EQ(got, want);                                                                           \
    if ((got) != (want)) return;                                                                   \
  } while (0)

static void check_eid(struct rsp_slice eid, const char *digits) {
  char got[RSP_EID_DIGITS + 1] = "";
  CHECK_EQ(eid.len, RSP_EID_LEN);
  if (eid.len == RSP_EID_LEN) CHECK_OK(rsp_eid_to_string(eid.p, got));
  CHECK_STR(got, digits);
}

static void check_iccid(struct rsp_slice iccid, const char *digits) {
  char got[RSP_ICCID_MAX_DIGITS + 1] = "";
  CHECK_EQ(iccid.len, RSP_ICCID_LEN);
  if (iccid.len == RSP_ICCID_LEN) CHECK_OK(rsp_iccid_decode(iccid.p, got));
  CHECK_STR(got, digits);
}

/* OBJECT IDENTIFIER content octets rendered in dotted form. */
static void check_oid(struct rsp_slice content, const char *dotted) {
  struct rsp_der_tlv tlv = {RSP_DER_OID, NULL, 0, content.p, content.len};
  char got[64] = "";
  CHECK(content.p != NULL);
  if (content.p) CHECK_OK(rsp_der_get_oid(&tlv, got, sizeof(got)));
  CHECK_STR(got, dotted);
}

/* The child of constructed `raw` with tag `tag` (first match). */
static bool find_child(struct rsp_slice raw, uint32_t tag, struct rsp_der_tlv *out) {
  struct rsp_der_tlv outer;
  const uint8_t *p, *end;
  if (!raw.p || rsp_der_parse_one(raw.p, raw.len, &outer) != RSP_OK) return false;
  rsp_der_children(&outer, &p, &end);
  while (p < end) {
    if (rsp_der_read_tlv(&p, end, out) != RSP_OK) return false;
    if (out->tag == tag) return true;
  }
  return false;
}

/* ---- decode, re-encode, truncate ------------------------------------------------------------- */

/* Every proper prefix of a valid message must be rejected with an error (and not crash). */
static void check_prefixes_rejected(const char *id, const struct rsp_msg_type *t,
                                    const uint8_t *der, size_t len) {
  size_t accepted = 0;
  for (size_t k = 0; k < len; k++) {
    struct rsp_arena a;
    void *out = NULL;
    rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
    if (rsp_msg_decode(t, der, k, &a, &out, NULL) == RSP_OK) {
      if (!accepted++) fprintf(stderr, "%s as %s: prefix of %zu bytes accepted\n", id, t->name, k);
    }
    rsp_arena_free(&a);
  }
  CHECK_EQ(accepted, 0);
}

/* Re-encoding must give the input back, byte for byte (unknown extensions included). */
static void check_reencode(const char *id, const struct rsp_msg_type *t, const void *msg,
                           const uint8_t *der, size_t len) {
  struct rsp_buf again;
  struct rsp_msg_diag diag;
  rsp_buf_init(&again, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_msg_encode(t, msg, &again, &diag);
  if (rc != RSP_OK) {
    rsp_test_fail(__FILE__, __LINE__, "%s as %s: encode: %s at %s", id, t->name, rsp_err_name(rc),
                  diag.path);
  } else if (again.len != len || memcmp(again.data, der, len) != 0) {
    print_hex("re-encoded", again.data, again.len);
    rsp_test_fail(__FILE__, __LINE__, "%s as %s: re-encoding differs", id, t->name);
  }
  rsp_buf_free(&again);
}

/* Decodes a valid message and runs the generic checks; NULL (and a failure) when it does not. */
static void *decode_checked(const char *id, const struct rsp_msg_type *t, const uint8_t *der,
                            size_t len, struct rsp_arena *a) {
  struct rsp_msg_diag diag;
  void *msg = NULL;
  rsp_err_t rc = rsp_msg_decode(t, der, len, a, &msg, &diag);
  check_prefixes_rejected(id, t, der, len);
  if (rc != RSP_OK) {
    rsp_test_fail(__FILE__, __LINE__, "%s as %s: decode: %s at %s", id, t->name, rsp_err_name(rc),
                  diag.path);
    return NULL;
  }
  const struct rsp_slice *raw = msg;
  CHECK(raw->p == der && raw->len == len);
  check_reencode(id, t, msg, der, len);
  return msg;
}

/* The chosen alternative of the two ESipa message CHOICEs (0 for any other type). */
static int esipa_which(const struct rsp_msg_type *t, const void *msg) {
  if (t == &rsp_msgt_esipa_message_from_ipa_to_eim)
    return ((const struct rsp_msg_esipa_message_from_ipa_to_eim *)msg)->which;
  if (t == &rsp_msgt_esipa_message_from_eim_to_ipa)
    return ((const struct rsp_msg_esipa_message_from_eim_to_ipa *)msg)->which;
  return 0;
}

/* The alternative of ESipa CHOICE `outer` that must be a `want`, found through the descriptor; its
 * raw bytes are the whole input because the alternatives carry their own tags (notes 2.1). */
static const void *choice_inner(const struct rsp_msg_type *outer, const void *msg,
                                const struct rsp_msg_type *want) {
  int which = esipa_which(outer, msg);
  CHECK(outer->kind == RSP_MSG_CHOICE);
  CHECK(which >= 1 && which <= outer->nfields);
  if (outer->kind != RSP_MSG_CHOICE || which < 1 || which > outer->nfields) return NULL;
  const struct rsp_msg_field *f = &outer->fields[which - 1];
  CHECK(f->type == want);
  if (f->type != want) return NULL;
  const void *inner = *(const void *const *)((const uint8_t *)msg + f->offset);
  const struct rsp_slice *outer_raw = msg, *inner_raw = inner;
  CHECK(inner_raw->p == outer_raw->p && inner_raw->len == outer_raw->len);
  return inner;
}

/* ---- der-hex rows: one check per row or message family --------------------------------------- */

typedef void (*row_check_fn)(const char *id, const void *msg);

static void check_pys01_get_eid(const char *id, const void *msg) {
  const struct rsp_msg_get_euicc_data_response *m = msg;
  check_eid(m->eid_value, "89882119900000000000000000000005");
}

/* BoundProfilePackage (SGP.22 section 2.5.4, notes 4.5): the expected column of each BPP row. */
struct bpp_expect {
  const char *id;
  size_t len;
  const char *transaction_id; /* hex */
  const char *host_id;        /* text */
  size_t n_first87, n_88, n_second87 /* 0 = replaceSessionKeys absent */, n_86;
};

static const struct bpp_expect bpp_expects[] = {
    {"PYS-02", 12928, "DF9C0EF4041A47EE9BFDCF0AB10770ED", "mahlzeit", 1, 1, 0, 13},
    {"IPA-02", 12900, "0E1C96DDEC2F4603963D3C26F89E533E", "mahlzeit", 1, 1, 1, 13},
    {"GO-01", 2784, "9273A06E0F0089CF231FFCA68093AEF2", "rsp.infineon.com", 1, 1, 0, 3},
    {"GO-02", 1796, "00000000009C1FCA", "redteamobile", 1, 1, 0, 2},
    {"GO-03", 8112, "3DDA102A42B6664DE1E31AD0002F3ADC", "GSMA_HOST_ID", 1, 1, 1, 8},
    {"GO-04", 6518, "ADED09406FA6850CDFF5372438BFA853", "esim-vsm.com", 1, 1, 0, 7},
};

static void check_bpp_secure_channel(const struct rsp_msg_initialise_secure_channel_request *r,
                                     const struct bpp_expect *e) {
  CHECK_EQ(r->remote_op_id, RSP_MSG_REMOTE_OP_ID_INSTALL_BOUND_PROFILE_PACKAGE);
  CHECK_HEX(r->transaction_id, e->transaction_id);
  CHECK(r->control_ref_template != NULL);
  if (r->control_ref_template) {
    CHECK_HEX(r->control_ref_template->key_type, "88"); /* AES */
    CHECK_HEX(r->control_ref_template->key_len, "10");  /* 16 bytes */
    CHECK_TEXT(r->control_ref_template->host_id, e->host_id);
  }
  /* smdpOtpk is an uncompressed P-256 / brainpoolP256r1 point, smdpSign is r||s. */
  CHECK(r->smdp_otpk.len == 65 && r->smdp_otpk.p[0] == 0x04);
  CHECK_EQ(r->smdp_sign.len, 64);
}

static void check_bpp(const char *id, const void *msg) {
  const struct rsp_msg_bound_profile_package *m = msg;
  const struct bpp_expect *e = NULL;
  for (size_t i = 0; i < sizeof(bpp_expects) / sizeof(bpp_expects[0]); i++)
    if (strcmp(bpp_expects[i].id, id) == 0) e = &bpp_expects[i];
  CHECK(e != NULL);
  if (!e) return;
  CHECK_EQ(m->raw.len, e->len);
  CHECK(m->initialise_secure_channel_request != NULL);
  if (m->initialise_secure_channel_request)
    check_bpp_secure_channel(m->initialise_secure_channel_request, e);
  CHECK(m->first_sequence_of87 && m->first_sequence_of87->n == e->n_first87);
  CHECK(m->sequence_of88 && m->sequence_of88->n == e->n_88);
  if (e->n_second87)
    CHECK(m->second_sequence_of87 && m->second_sequence_of87->n == e->n_second87);
  else
    CHECK(m->second_sequence_of87 == NULL);
  CHECK(m->sequence_of86 && m->sequence_of86->n == e->n_86);
}

/* The GlobalPlatform access rule in GO-05's unknown BF76 element, read from the raw bytes. */
static bool child_of(const struct rsp_der_tlv *parent, uint32_t tag, struct rsp_der_tlv *out) {
  return find_child(rsp_msg_slice(parent->raw, parent->raw_len), tag, out);
}

static void check_go05_ref_ar_do(struct rsp_slice raw) {
  struct rsp_der_tlv ext, ref_ar, ref, ar, app, perm;
  bool found =
      find_child(raw, TAG_REF_AR_DO_EXTENSION, &ext) && child_of(&ext, TAG_GP_REF_AR_DO, &ref_ar) &&
      child_of(&ref_ar, TAG_GP_REF_DO, &ref) && child_of(&ref, TAG_GP_DEVICE_APP_ID_REF_DO, &app) &&
      child_of(&ref_ar, TAG_GP_AR_DO, &ar) && child_of(&ar, TAG_GP_PERM_AR_DO, &perm);
  CHECK(found);
  if (!found) return;
  CHECK_HEX(rsp_msg_slice(app.val, app.len),
            "3AC95BA6747095F08D3E589A12AAD078BEE2CEAA1E3F3E7195BDC84B258781D8");
  CHECK_HEX(rsp_msg_slice(perm.val, perm.len), "0000000000000001");
}

static void check_go05_store_metadata(const char *id, const void *msg) {
  const struct rsp_msg_store_metadata_request *m = msg;
  CHECK_HEX(m->iccid, "98583224204248266964");
  check_iccid(m->iccid, "89852342022484629646");
  CHECK_TEXT(m->service_provider_name, "CMLINK");
  CHECK_TEXT(m->profile_name, "CMI_GDS");
  CHECK(!m->icon_type.present && !m->profile_class.present); /* profileClass DEFAULT operational */
  CHECK_ABSENT(m->icon);
  CHECK(m->notification_configuration_info && m->notification_configuration_info->n == 1);
  if (m->notification_configuration_info && m->notification_configuration_info->n == 1) {
    const struct rsp_msg_notification_configuration_information *nci =
        &m->notification_configuration_info->v[0];
    CHECK_HEX(nci->profile_management_operation, "0470");
    CHECK(!rsp_msg_bit(nci->profile_management_operation,
                       RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL));
    CHECK(rsp_msg_bit(nci->profile_management_operation,
                      RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_ENABLE));
    CHECK(rsp_msg_bit(nci->profile_management_operation,
                      RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DISABLE));
    CHECK(rsp_msg_bit(nci->profile_management_operation,
                      RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DELETE));
    CHECK_TEXT(nci->notification_address, "consumer.rsp.world");
  }
  CHECK(m->profile_owner != NULL);
  if (m->profile_owner) {
    CHECK_HEX(m->profile_owner->mcc_mnc, "54F421"); /* MCC 454, MNC 12 (TS 24.008 order) */
    CHECK(slice_is_all(m->profile_owner->gid1, 10, 0xFF));
    CHECK(slice_is_all(m->profile_owner->gid2, 10, 0xFF));
  }
  CHECK_ABSENT(m->profile_policy_rules);
  check_go05_ref_ar_do(m->raw);
  /* the unknown BF76 is kept as the one extension, after every known component */
  CHECK(m->ext && m->ext->n == 1);
  if (m->ext && m->ext->n == 1) {
    CHECK_EQ(m->ext->v[0].tlv.p[0], 0xBF);
    CHECK_EQ(m->ext->v[0].tlv.p[1], 0x76);
    CHECK_EQ(m->ext->v[0].tlv.len, 53);
  }
}

static void check_ipa01_add_initial_eim(const char *id, const void *msg) {
  const struct rsp_msg_add_initial_eim_request *m = msg;
  CHECK(m->eim_configuration_data_list && m->eim_configuration_data_list->n == 1);
  if (!m->eim_configuration_data_list || m->eim_configuration_data_list->n != 1) return;
  const struct rsp_msg_eim_configuration_data *c = &m->eim_configuration_data_list->v[0];
  CHECK_TEXT(c->eim_id, "eIM");
  CHECK_TEXT(c->eim_fqdn, "127.0.0.1:8000");
  CHECK(c->counter_value.present && c->counter_value.v == 1);
  CHECK(c->association_token.present && c->association_token.v == -1); /* "allocate one" */
  CHECK(!c->eim_id_type.present && !c->trusted_public_key_data_tls);
  CHECK(c->eim_public_key_data != NULL);
  if (!c->eim_public_key_data) return;
  CHECK_EQ(c->eim_public_key_data->which,
           RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY);
  /* The wire carries the SubjectPublicKeyInfo under [0] (A0); the struct holds it as 30 ...:
   * id-ecPublicKey, prime256v1, then the 65-byte uncompressed point 04 FE58 4A6F ... */
  struct rsp_slice spki = c->eim_public_key_data->u.eim_public_key;
  static const char spki_head[] = "3059301306072A8648CE3D020106082A8648CE3D030107034200";
  size_t head_len;
  uint8_t *head = rsp_test_hex(spki_head, &head_len);
  bool shape = spki.len == head_len + 65 && memcmp(spki.p, head, head_len) == 0;
  CHECK(shape);
  if (shape) CHECK_HEX(rsp_msg_slice(spki.p + head_len, 5), "04FE584A6F");
  rsp_free(head);
}

static void check_ipa12_01_result_error(const char *id, const void *msg) {
  const struct rsp_msg_provide_eim_package_result *m = msg;
  CHECK_HEX(m->eid_value, "000102030405060708090A0B0C0D0E0F");
  CHECK(m->eim_package_result != NULL);
  if (!m->eim_package_result) return;
  REQUIRE_WHICH(m->eim_package_result->which,
                RSP_MSG_EIM_PACKAGE_RESULT_EIM_PACKAGE_RESULT_RESPONSE_ERROR);
  const struct rsp_msg_eim_package_result_response_error *e =
      m->eim_package_result->u.eim_package_result_response_error;
  CHECK(e != NULL);
  if (!e) return;
  CHECK_HEX(e->eim_transaction_id, "AABBCC");
  CHECK_EQ(e->eim_package_result_error_code, 2); /* unknownPackage */
}

static void check_ipa12_02_trigger_result(const char *id, const void *msg) {
  const struct rsp_msg_profile_download_trigger_result *m = msg;
  CHECK_HEX(m->eim_transaction_id, "AABBCC");
  CHECK(m->profile_download_trigger_result_data != NULL);
  if (!m->profile_download_trigger_result_data) return;
  REQUIRE_WHICH(
      m->profile_download_trigger_result_data->which,
      RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_DOWNLOAD_ERROR);
  const struct
      rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data_profile_download_error
          *e = m->profile_download_trigger_result_data->u.profile_download_error;
  CHECK(e != NULL);
  if (!e) return;
  CHECK_EQ(e->profile_download_error_reason, 127); /* undefinedError */
  CHECK_ABSENT(e->error_response);
}

static void check_ipa12_03_ipa_euicc_data(const char *id, const void *msg) {
  const struct rsp_msg_ipa_euicc_data_response *m = msg;
  REQUIRE_WHICH(m->which, RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA);
  const struct rsp_msg_ipa_euicc_data *d = m->u.ipa_euicc_data;
  CHECK(d != NULL);
  if (!d) return;
  CHECK_TEXT(d->default_smdp_address, "x");
  CHECK_HEX(d->eim_transaction_id, "AABBCC");
  CHECK(!d->notifications_list && !d->euicc_info1 && !d->euicc_info2 && !d->ipa_capabilities);
  CHECK_ABSENT(d->root_smds_address);
  CHECK(!d->association_token.present);
}

static void check_ipa12_04_notification(const char *id, const void *msg) {
  const struct rsp_msg_handle_notification_esipa *m = msg;
  REQUIRE_WHICH(m->which, RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION);
  const struct rsp_msg_sgp32_pending_notification *pn = m->u.pending_notification;
  CHECK(pn != NULL);
  if (!pn) return;
  REQUIRE_WHICH(pn->which, RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_OTHER_SIGNED_NOTIFICATION);
  const struct rsp_msg_compact_other_signed_notification *c =
      pn->u.compact_other_signed_notification;
  CHECK(c != NULL && c->tbs_other_notification != NULL);
  if (!c || !c->tbs_other_notification) return;
  CHECK_ABSENT(c->eid_value);
  const struct rsp_msg_notification_metadata *t = c->tbs_other_notification;
  CHECK_EQ(t->seq_number, 7);
  /* BIT STRING, 6 unused bits, 40: only bit 1 (notificationEnable). */
  CHECK_HEX(t->profile_management_operation, "0640");
  CHECK(
      rsp_msg_bit(t->profile_management_operation, RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_ENABLE));
  CHECK(!rsp_msg_bit(t->profile_management_operation,
                     RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL));
  CHECK_TEXT(t->notification_address, "a");
  CHECK_ABSENT(t->iccid);
  CHECK_HEX(c->euicc_notification_signature, "EE");
}

static void check_ipa12_05_get_eim_package(const char *id, const void *msg) {
  const struct rsp_msg_get_eim_package_request *m = msg;
  CHECK_HEX(m->eid_value, "000102030405060708090A0B0C0D0E0F");
  CHECK(!m->notify_state_change);
  CHECK(!m->state_change_cause.present);
  CHECK_ABSENT(m->r_plmn);
}

static void check_ipa12_06_get_eim_package(const char *id, const void *msg) {
  const struct rsp_msg_get_eim_package_request *m = msg;
  CHECK_HEX(m->eid_value, "000102030405060708090A0B0C0D0E0F");
  CHECK(m->notify_state_change);
  CHECK(m->state_change_cause.present && m->state_change_cause.v == 1); /* fallback */
  CHECK_ABSENT(m->r_plmn);
}

static void check_ipa12_07_acknowledgements(const char *id, const void *msg) {
  const struct rsp_msg_provide_eim_package_result_response *m = msg;
  REQUIRE_WHICH(m->which, RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS);
  CHECK(m->u.eim_acknowledgements && m->u.eim_acknowledgements->n == 1);
  if (m->u.eim_acknowledgements && m->u.eim_acknowledgements->n == 1)
    CHECK_EQ(m->u.eim_acknowledgements->v[0], 5);
}

static void check_ipa12_08_empty_response(const char *id, const void *msg) {
  const struct rsp_msg_provide_eim_package_result_response *m = msg;
  REQUIRE_WHICH(m->which, RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE);
  CHECK(m->u.empty_response != NULL);
}

static void check_ipa12_09_result_error(const char *id, const void *msg) {
  const struct rsp_msg_provide_eim_package_result_response *m = msg;
  REQUIRE_WHICH(m->which,
                RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR);
  CHECK_EQ(m->u.provide_eim_package_result_error, 127); /* undefinedError */
}

static void check_ipa12_10_fallback_request(const char *id, const void *msg) {
  CHECK(((const struct rsp_msg_execute_fallback_mechanism_request *)msg)->refresh_flag);
}

static void check_ipa12_11_fallback_response(const char *id, const void *msg) {
  const struct rsp_msg_execute_fallback_mechanism_response *m = msg;
  CHECK_EQ(m->execute_fallback_mechanism_result, 104); /* ecallActive */
}

static void check_ipa12_12_return_from_fallback(const char *id, const void *msg) {
  const struct rsp_msg_return_from_fallback_response *m = msg;
  CHECK_EQ(m->return_from_fallback_result, 6); /* fallbackNotAvailable */
}

static void check_ipa12_13_emergency_profile(const char *id, const void *msg) {
  CHECK(((const struct rsp_msg_enable_emergency_profile_request *)msg)->refresh_flag);
}

static void check_ipa12_14_connectivity(const char *id, const void *msg) {
  const struct rsp_msg_get_connectivity_parameters_response *m = msg;
  REQUIRE_WHICH(m->which, RSP_MSG_GET_CONNECTIVITY_PARAMETERS_RESPONSE_CONNECTIVITY_PARAMETERS);
  CHECK(m->u.connectivity_parameters != NULL);
  if (m->u.connectivity_parameters) CHECK_HEX(m->u.connectivity_parameters->http_params, "AABBCC");
}

static void check_ipa12_15_connectivity_error(const char *id, const void *msg) {
  const struct rsp_msg_get_connectivity_parameters_response *m = msg;
  REQUIRE_WHICH(m->which,
                RSP_MSG_GET_CONNECTIVITY_PARAMETERS_RESPONSE_CONNECTIVITY_PARAMETERS_ERROR);
  CHECK_EQ(m->u.connectivity_parameters_error, 1); /* parametersNotAvailable */
}

static void check_ipa12_16_immediate_enabling(const char *id, const void *msg) {
  const struct rsp_msg_configure_immediate_profile_enabling_request *m = msg;
  CHECK(m->immediate_enable_flag);
  CHECK_HEX(m->default_smdp_oid, "8837");
  check_oid(m->default_smdp_oid, "2.999");
  CHECK_TEXT(m->default_smdp_address, "x");
}

static void check_ipa12_17_immediate_enabling(const char *id, const void *msg) {
  const struct rsp_msg_configure_immediate_profile_enabling_response *m = msg;
  CHECK_EQ(m->config_immediate_enable_result, 2); /* associatedEimAlreadyExists */
}

static void check_ipa12_18_ipae_activation(const char *id, const void *msg) {
  const struct rsp_msg_ipae_activation_request *m = msg;
  CHECK_HEX(m->ipae_option, "0780");
  CHECK(rsp_msg_bit(m->ipae_option, 0)); /* activateIpae(0) */
}

static void check_ipa12_19_ipae_activation(const char *id, const void *msg) {
  const struct rsp_msg_ipae_activation_response *m = msg;
  CHECK_EQ(m->ipae_activation_result, 1); /* notSupported */
}

static void check_ipa12_20_connectivity_request(const char *id, const void *msg) {
  const struct rsp_msg_get_connectivity_parameters_request *m = msg;
  CHECK_EQ(m->raw.len, 3); /* BF5F 00: an empty SEQUENCE */
}

static void check_ipa12_21_default_dp_address(const char *id, const void *msg) {
  const struct rsp_msg_set_default_dp_address_request *m = msg;
  /* Present and empty: "remove the default SM-DP+ address". */
  CHECK(m->default_dp_address.p != NULL && m->default_dp_address.len == 0);
}

struct der_row {
  const char *id;
  row_check_fn check;
};

static const struct der_row der_rows[] = {
    {"PYS-01", check_pys01_get_eid},
    {"PYS-02", check_bpp},
    {"IPA-01", check_ipa01_add_initial_eim},
    {"IPA-02", check_bpp},
    {"IPA-12-01", check_ipa12_01_result_error},
    {"IPA-12-02", check_ipa12_02_trigger_result},
    {"IPA-12-03", check_ipa12_03_ipa_euicc_data},
    {"IPA-12-04", check_ipa12_04_notification},
    {"IPA-12-05", check_ipa12_05_get_eim_package},
    {"IPA-12-06", check_ipa12_06_get_eim_package},
    {"IPA-12-07", check_ipa12_07_acknowledgements},
    {"IPA-12-08", check_ipa12_08_empty_response},
    {"IPA-12-09", check_ipa12_09_result_error},
    {"IPA-12-10", check_ipa12_10_fallback_request},
    {"IPA-12-11", check_ipa12_11_fallback_response},
    {"IPA-12-12", check_ipa12_12_return_from_fallback},
    {"IPA-12-13", check_ipa12_13_emergency_profile},
    {"IPA-12-14", check_ipa12_14_connectivity},
    {"IPA-12-15", check_ipa12_15_connectivity_error},
    {"IPA-12-16", check_ipa12_16_immediate_enabling},
    {"IPA-12-17", check_ipa12_17_immediate_enabling},
    {"IPA-12-18", check_ipa12_18_ipae_activation},
    {"IPA-12-19", check_ipa12_19_ipae_activation},
    {"IPA-12-20", check_ipa12_20_connectivity_request},
    {"IPA-12-21", check_ipa12_21_default_dp_address},
    {"GO-01", check_bpp},
    {"GO-02", check_bpp},
    {"GO-03", check_bpp},
    {"GO-04", check_bpp},
    /* BF76 is not in the v2.5 module: kept as an extension, re-encoded in place */
    {"GO-05", check_go05_store_metadata},
};

/* ---- the traces.tsv driver ------------------------------------------------------------------- */

/* Descriptors named by a message_type cell: the first word ("BoundProfilePackage (BF36)"), then
 * every word in the parentheses that is a production ("(EsipaMessageFromIpaToEim, BF50)"). */
static size_t type_names(const char *cell, const struct rsp_msg_type **out, size_t max) {
  char word[128];
  size_t n = 0, len = strcspn(cell, " (");
  if (len == 0 || len >= sizeof(word)) return 0;
  memcpy(word, cell, len);
  word[len] = '\0';
  if (!(out[n] = rsp_msg_type_find(word))) return 0;
  n++;
  const char *p = strchr(cell, '(');
  while (p && *p && *p != ')' && n < max) {
    p += strspn(p, "(, ");
    len = strcspn(p, ",) ");
    if (len == 0 || len >= sizeof(word)) break;
    memcpy(word, p, len);
    word[len] = '\0';
    if ((out[n] = rsp_msg_type_find(word)) != NULL) n++;
    p += len;
  }
  return n;
}

static const struct der_row *find_der_row(const char *id) {
  for (size_t i = 0; i < sizeof(der_rows) / sizeof(der_rows[0]); i++)
    if (strcmp(der_rows[i].id, id) == 0) return &der_rows[i];
  return NULL;
}

static void run_negative_der_row(const struct rsp_test_vector *v, const struct rsp_msg_type *t,
                                 const uint8_t *der, size_t len) {
  struct rsp_arena a;
  void *msg = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_msg_decode(t, der, len, &a, &msg, NULL);
  if (rc == RSP_OK)
    rsp_test_fail(__FILE__, __LINE__, "%s as %s: negative row accepted", v->id, t->name);
  rsp_arena_free(&a);
}

static void run_der_row(const struct rsp_test_vector *v) {
  const struct rsp_msg_type *types[MAX_NAMES];
  size_t ntypes = type_names(v->type, types, MAX_NAMES), len = 0;
  const struct der_row *row = find_der_row(v->id);
  uint8_t *der = rsp_test_hex(v->data, &len);
  if (ntypes == 0)
    rsp_test_fail(__FILE__, __LINE__, "%s: no descriptor for \"%s\"", v->id, v->type);
  if (!v->negative && !row) rsp_test_fail(__FILE__, __LINE__, "%s: no field checks", v->id);
  for (size_t i = 0; i < ntypes; i++) {
    struct rsp_arena a;
    rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
    if (v->negative) {
      run_negative_der_row(v, types[i], der, len);
    } else {
      const void *msg = decode_checked(v->id, types[i], der, len, &a);
      if (msg && i > 0) msg = choice_inner(types[i], msg, types[0]);
      if (msg && row) row->check(v->id, msg);
    }
    rsp_arena_free(&a);
  }
  rsp_free(der);
}

/* Activation codes: the expected column of each text row. */
struct ac_expect {
  const char *id;
  const char *smdp_address, *matching_id, *smdp_oid; /* "" = empty / absent */
  bool cc_required, lpa_prefix;
  bool round_trip; /* the expected column says round_trip=identical */
};

static const struct ac_expect ac_expects[] = {
    {"PYS-AC1", "SMDP.GSMA.COM", "04386-AGYFT-A74Y8-3F815", "", false, false, true},
    {"PYS-AC2", "SMDP.GSMA.COM", "04386-AGYFT-A74Y8-3F815", "1.3.6.1.4.1.31746", true, false, true},
    {"PYS-AC3", "SMDP.GSMA.COM", "", "1.3.6.1.4.1.31746", false, false, true},
    {"IPA-AC1", "SMDP.EXAMPLE.COM", "04386-AGYFT-A74Y8-3F815", "", true, false, false},
    {"IPA-AC2", "SMDP.EXAMPLE.COM", "04386-AGYFT-A74Y8-3F815", "", false, true, false},
    {"IPA-AC3", "SMDP.EXAMPLE.NET", "KL14XA-8C7RLY", "1.3.6.1.4.1.3174", false, false, false},
};

static void check_ac_fields(const struct rsp_test_vector *v,
                            const struct rsp_msg_activation_code *ac, const struct ac_expect *e) {
  char out[RSP_MSG_AC_MAX_LEN + sizeof(RSP_MSG_AC_LPA_PREFIX)];
  CHECK_EQ(ac->format, RSP_MSG_AC_FORMAT);
  CHECK_STR(ac->smdp_address, e->smdp_address);
  CHECK_STR(ac->matching_id, e->matching_id);
  CHECK_STR(ac->smdp_oid, e->smdp_oid);
  CHECK_EQ(ac->cc_required, e->cc_required);
  CHECK_EQ(ac->lpa_prefix, e->lpa_prefix);
  CHECK_EQ(strstr(v->expected, "round_trip=identical") != NULL, e->round_trip);
  /* Required by the rows that say so; our canonical form reproduces the other rows too. */
  CHECK_OK(rsp_msg_activation_code_format(ac, out, sizeof(out), NULL, NULL));
  CHECK_STR(out, v->data);
}

static void run_text_row(const struct rsp_test_vector *v) {
  struct rsp_msg_activation_code ac;
  const struct ac_expect *e = NULL;
  const char *why = NULL;
  rsp_err_t rc = rsp_msg_activation_code_parse(v->data, strlen(v->data), &ac, &why);
  if (v->negative) {
    CHECK(strstr(v->expected, "expect=reject") != NULL);
    if (rc == RSP_OK) rsp_test_fail(__FILE__, __LINE__, "%s: negative code accepted", v->id);
    CHECK(why != NULL);
    return;
  }
  for (size_t i = 0; i < sizeof(ac_expects) / sizeof(ac_expects[0]); i++)
    if (strcmp(ac_expects[i].id, v->id) == 0) e = &ac_expects[i];
  if (!e) rsp_test_fail(__FILE__, __LINE__, "%s: no field checks", v->id);
  if (rc != RSP_OK)
    rsp_test_fail(__FILE__, __LINE__, "%s: rejected (%s): %s", v->id, rsp_err_name(rc), why);
  if (e && rc == RSP_OK) check_ac_fields(v, &ac, e);
}

/* Loads traces.tsv; NULL (after asking to skip) when the shared data is absent. */
static struct rsp_test_vector *load_rows(int *n) {
  struct rsp_test_vector *rows = NULL;
  *n = rsp_test_vectors_load(&rows);
  if (*n < 0) {
    rsp_test_skip("shared/vectors/traces.tsv absent (set RSP_SHARED)");
    return NULL;
  }
  return rows;
}

static void every_der_row(void) {
  int n, seen = 0;
  struct rsp_test_vector *rows = load_rows(&n);
  if (!rows) return;
  for (int i = 0; i < n; i++) {
    if (strcmp(rows[i].encoding, "der-hex") != 0) continue;
    run_der_row(&rows[i]);
    seen += find_der_row(rows[i].id) != NULL;
  }
  /* A row renamed or removed from the file must not silently drop its checks. */
  CHECK_EQ(seen, sizeof(der_rows) / sizeof(der_rows[0]));
  rsp_test_vectors_free(rows, n);
}

static void every_text_row(void) {
  int n, positive = 0, negative = 0;
  struct rsp_test_vector *rows = load_rows(&n);
  if (!rows) return;
  for (int i = 0; i < n; i++) {
    if (strcmp(rows[i].encoding, "text") != 0) continue;
    run_text_row(&rows[i]);
    rows[i].negative ? negative++ : positive++;
  }
  CHECK_EQ(positive, sizeof(ac_expects) / sizeof(ac_expects[0]));
  CHECK(negative >= 3);
  rsp_test_vectors_free(rows, n);
}

static void no_unknown_encodings(void) {
  int n;
  struct rsp_test_vector *rows = load_rows(&n);
  if (!rows) return;
  for (int i = 0; i < n; i++)
    if (strcmp(rows[i].encoding, "der-hex") != 0 && strcmp(rows[i].encoding, "text") != 0)
      rsp_test_fail(__FILE__, __LINE__, "%s: encoding %s not handled", rows[i].id,
                    rows[i].encoding);
  rsp_test_vectors_free(rows, n);
}

/* ---- the real eIM package traces of sgp32-notes.md sections 3.1 and 3.4 ---------------------- */

/* 3.1: EuiccPackageRequest, enable PSMO, eimId "eIM", EID ...011628, counter 1006 (134 bytes). */
static const char notes_epr[] =
    "BF518182303D800365494D5A1089044045118427484800000000011628810203EE8210F92B2FEE35632499E841CB"
    "754FDFD9F3A00EA30C5A0A989444999999990920F35F37408D5DE179B03A3FE13CD3A7E5A947FDDBB831ACC8F9AAF"
    "DC9777D314837CB0C805EE3029BF2445611C1580DC4470147DD6293ECA66987BC9A0A704CAB0031B223";
static const char notes_eim_signature[] =
    "8D5DE179B03A3FE13CD3A7E5A947FDDBB831ACC8F9AAFDC9777D314837CB0C80"
    "5EE3029BF2445611C1580DC4470147DD6293ECA66987BC9A0A704CAB0031B223";
#define NOTES_TRANSACTION_ID "F92B2FEE35632499E841CB754FDFD9F3"

/* 3.4: the eUICC's EuiccPackageResult (109 bytes), its signed data and signature. */
static const char notes_result[] =
    "BF516AA0683023800365494D810203EE8210F92B2FEE35632499E841CB754FDFD9F383011430038301015F3740"
    "9EB61D189D332FF2DC6FF90A97A9438AB973F04E6FE2F106FA9C7809A36B8A12740E113C583009D3859A3B2EAB"
    "E6F43409AE46F32CFD34E2D023B2561F9F2311";
static const char notes_result_signed_data[] =
    "3023800365494D810203EE8210F92B2FEE35632499E841CB754FDFD9F38301143003830101";
static const char notes_result_signature[] =
    "9EB61D189D332FF2DC6FF90A97A9438AB973F04E6FE2F106FA9C7809A36B8A12"
    "740E113C583009D3859A3B2EABE6F43409AE46F32CFD34E2D023B2561F9F2311";
/* 3.4: the same result delivered as a v1.0 ProvideEimPackageResult (ePRAndNotifications with the
 * v1.0 notificationList [43], BF2B), whose list repeats the result with a second signature. */
static const char notes_v10_provide_result[] =
    "BF5081E23081DFBF516AA0683023800365494D810203EE8210F92B2FEE35632499E841CB754FDFD9F38301143003"
    "8301015F37409EB61D189D332FF2DC6FF90A97A9438AB973F04E6FE2F106FA9C7809A36B8A12740E113C583009D3"
    "859A3B2EABE6F43409AE46F32CFD34E2D023B2561F9F2311BF2B6FA26DBF516AA0683023800365494D810203EE82"
    "10F92B2FEE35632499E841CB754FDFD9F383011430038301015F37400523BFA5A4F0CAAA1D42637520E2DEF2DDC9"
    "6FBE775342BB13D3D6EB6AD919951354FB59082675038D949131ECF3AF272F771A085E3C2099DC45C897E9808022";
static const char notes_result_signature_copy[] =
    "0523BFA5A4F0CAAA1D42637520E2DEF2DDC96FBE775342BB13D3D6EB6AD91995"
    "1354FB59082675038D949131ECF3AF272F771A085E3C2099DC45C897E9808022";

/* `der` is where the request's bytes start in the decoded input. */
static void check_notes_epr(const struct rsp_msg_euicc_package_request *m, const uint8_t *der) {
  CHECK(m->raw.p == der && m->raw.len == 134);
  const struct rsp_msg_euicc_package_signed *s = m->euicc_package_signed;
  CHECK(s != NULL);
  if (!s) return;
  /* The eIM signed these exact bytes: BF51 81 82 is 4 bytes, 30 3D ... 63. */
  CHECK(s->raw.p == der + 4 && s->raw.len == 63);
  CHECK_TEXT(s->eim_id, "eIM");
  check_eid(s->eid_value, "89044045118427484800000000011628");
  CHECK_EQ(s->counter_value, 1006);
  CHECK_HEX(s->eim_transaction_id, NOTES_TRANSACTION_ID);
  CHECK_HEX(m->eim_signature, notes_eim_signature);
  CHECK(s->euicc_package && s->euicc_package->which == RSP_MSG_EUICC_PACKAGE_PSMO_LIST);
  if (!s->euicc_package || s->euicc_package->which != RSP_MSG_EUICC_PACKAGE_PSMO_LIST) return;
  const struct rsp_msg_euicc_package_psmo_list *l = s->euicc_package->u.psmo_list;
  CHECK(l && l->n == 1 && l->v[0].which == RSP_MSG_PSMO_ENABLE);
  if (!l || l->n != 1 || l->v[0].which != RSP_MSG_PSMO_ENABLE) return;
  CHECK_HEX(l->v[0].u.enable->iccid, "98944499999999 0920F3");
  check_iccid(l->v[0].u.enable->iccid, "8949449999999990023");
  CHECK(!l->v[0].u.enable->rollback_flag);
}

static void check_notes_result(const struct rsp_msg_euicc_package_result *r, const char *sig) {
  REQUIRE_WHICH(r->which, RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  const struct rsp_msg_euicc_package_result_signed *s = r->u.euicc_package_result_signed;
  CHECK(s && s->euicc_package_result_data_signed);
  if (!s || !s->euicc_package_result_data_signed) return;
  const struct rsp_msg_euicc_package_result_data_signed *d = s->euicc_package_result_data_signed;
  CHECK_HEX(d->raw, notes_result_signed_data); /* what euiccSignEPR covers (with 84 01 01) */
  CHECK_TEXT(d->eim_id, "eIM");
  CHECK_EQ(d->counter_value, 1006);
  CHECK_HEX(d->eim_transaction_id, NOTES_TRANSACTION_ID);
  CHECK_EQ(d->seq_number, 20);
  CHECK(d->euicc_result && d->euicc_result->n == 1);
  if (d->euicc_result && d->euicc_result->n == 1) {
    CHECK_EQ(d->euicc_result->v[0].which, RSP_MSG_EUICC_RESULT_DATA_ENABLE_RESULT);
    CHECK_EQ(d->euicc_result->v[0].u.enable_result, 1); /* iccidOrAidNotFound */
  }
  CHECK_HEX(s->euicc_sign_epr, sig);
}

static void notes_euicc_package_request(void) {
  size_t len;
  struct rsp_arena a;
  uint8_t *der = rsp_test_hex(notes_epr, &len);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_EQ(len, 134);
  const struct rsp_msg_euicc_package_request *m =
      decode_checked("notes 3.1", &rsp_msgt_euicc_package_request, der, len, &a);
  if (m) check_notes_epr(m, der);
  rsp_arena_free(&a);
  rsp_free(der);
}

/* The same package inside ESipa getEimPackageResponse: BF4F 81 86, then the 134 bytes. */
static void notes_get_eim_package_response(void) {
  char hex[sizeof(notes_epr) + 8];
  size_t len;
  struct rsp_arena a;
  snprintf(hex, sizeof(hex), "BF4F8186%s", notes_epr);
  uint8_t *der = rsp_test_hex(hex, &len);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  const struct rsp_msg_get_eim_package_response *r =
      decode_checked("notes 3.1 BF4F", &rsp_msgt_get_eim_package_response, der, len, &a);
  if (r) CHECK_EQ(r->which, RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EUICC_PACKAGE_REQUEST);
  if (r && r->which == RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EUICC_PACKAGE_REQUEST)
    check_notes_epr(r->u.euicc_package_request, der + 4);
  const void *e =
      decode_checked("notes 3.1 BF4F", &rsp_msgt_esipa_message_from_eim_to_ipa, der, len, &a);
  r = e ? choice_inner(&rsp_msgt_esipa_message_from_eim_to_ipa, e,
                       &rsp_msgt_get_eim_package_response)
        : NULL;
  if (r && r->which == RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EUICC_PACKAGE_REQUEST)
    check_notes_epr(r->u.euicc_package_request, der + 4);
  else
    CHECK(r != NULL && r->which == RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EUICC_PACKAGE_REQUEST);
  rsp_arena_free(&a);
  rsp_free(der);
}

static void notes_euicc_package_result(void) {
  size_t len;
  struct rsp_arena a;
  uint8_t *der = rsp_test_hex(notes_result, &len);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_EQ(len, 109);
  const struct rsp_msg_euicc_package_result *r =
      decode_checked("notes 3.4", &rsp_msgt_euicc_package_result, der, len, &a);
  if (r) check_notes_result(r, notes_result_signature);
  rsp_arena_free(&a);
  rsp_free(der);
}

/* The v1.0 message's parts, decoded on their own with v1.2 descriptors: BF50 { 30 { BF51 result,
 * BF2B { A2 euiccPackageResultList { BF51 copy } } } }. */
static void check_v10_parts(struct rsp_slice whole, const uint8_t *result, size_t result_len) {
  struct rsp_der_tlv seq, epr, list;
  struct rsp_arena a;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  bool found = find_child(whole, RSP_DER_SEQUENCE, &seq) &&
               child_of(&seq, RSP_TAG_EUICC_PACKAGE_RESULT, &epr) &&
               child_of(&seq, RSP_TAG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE, &list);
  CHECK(found);
  if (!found) {
    rsp_arena_free(&a);
    return;
  }
  CHECK(epr.raw_len == result_len && memcmp(epr.raw, result, result_len) == 0);
  const struct rsp_msg_euicc_package_result *r = decode_checked(
      "notes 3.4 v1.0 BF51", &rsp_msgt_euicc_package_result, epr.raw, epr.raw_len, &a);
  if (r) check_notes_result(r, notes_result_signature);
  const struct rsp_msg_sgp32_retrieve_notifications_list_response *l =
      decode_checked("notes 3.4 v1.0 BF2B", &rsp_msgt_sgp32_retrieve_notifications_list_response,
                     list.raw, list.raw_len, &a);
  if (l)
    CHECK_EQ(l->which,
             RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_EUICC_PACKAGE_RESULT_LIST);
  if (l &&
      l->which == RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_EUICC_PACKAGE_RESULT_LIST) {
    CHECK_EQ(l->u.euicc_package_result_list->n, 1);
    if (l->u.euicc_package_result_list->n == 1)
      check_notes_result(&l->u.euicc_package_result_list->v[0], notes_result_signature_copy);
  }
  rsp_arena_free(&a);
}

/* The v1.0 ProvideEimPackageResult is not a v1.2 message: v1.2 makes
 * ePRAndNotifications.notificationList ([0], A0) mandatory, and the v1.0 element in that place is
 * notificationList [43] (BF2B). The v1.2 descriptors must say exactly that. */
static void decode_v10_with_v12(const struct rsp_msg_type *t, const uint8_t *der, size_t len,
                                const char *path) {
  struct rsp_arena a;
  struct rsp_msg_diag diag;
  void *msg = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_ERR(rsp_msg_decode(t, der, len, &a, &msg, &diag), RSP_E_DER_MISSING);
  CHECK_STR(diag.path, path);
  rsp_arena_free(&a);
}

/* ... and the v1.0 descriptor reads it whole, byte for byte. */
static void decode_v10_with_v10(const uint8_t *der, size_t len) {
  struct rsp_arena a;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  const struct rsp_msg_v10_provide_eim_package_result *p =
      decode_checked("notes 3.4 v1.0", &rsp_msgt_v10_provide_eim_package_result, der, len, &a);
  CHECK(p && p->which == RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_EPR_AND_NOTIFICATIONS);
  if (p && p->which == RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_EPR_AND_NOTIFICATIONS) {
    const struct rsp_msg_v10_epr_and_notifications *en = p->u.epr_and_notifications;
    check_notes_result(en->euicc_package_result, notes_result_signature);
    CHECK_EQ(en->notification_list->which,
             RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_EUICC_PACKAGE_RESULT_LIST);
  }
  rsp_arena_free(&a);
}

static void notes_v10_provide_eim_package_result(void) {
  size_t len, result_len;
  uint8_t *der = rsp_test_hex(notes_v10_provide_result, &len);
  uint8_t *result = rsp_test_hex(notes_result, &result_len);
  decode_v10_with_v10(der, len);
  decode_v10_with_v12(
      &rsp_msgt_provide_eim_package_result, der, len,
      "ProvideEimPackageResult.eimPackageResult.ePRAndNotifications.notificationList");
  decode_v10_with_v12(&rsp_msgt_esipa_message_from_ipa_to_eim, der, len,
                      "EsipaMessageFromIpaToEim.provideEimPackageResult.eimPackageResult."
                      "ePRAndNotifications.notificationList");
  check_v10_parts(rsp_msg_slice(der, len), result, result_len);
  rsp_free(result);
  rsp_free(der);
}

RSP_TESTS(T(no_unknown_encodings), T(every_der_row), T(every_text_row),
          T(notes_euicc_package_request), T(notes_get_eim_package_response),
          T(notes_euicc_package_result), T(notes_v10_provide_eim_package_result))
