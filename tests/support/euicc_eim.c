#include "euicc_eim.h"

#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/msg/signed.h"
#include "test.h"

rsp_err_t rsp_test_eim_load(struct rsp_test_eim *e, const char *pki_dir) {
  char path[1024];
  size_t len;
  memset(e, 0, sizeof *e);
  rsp_buf_init(&e->cert, 8192);
  snprintf(path, sizeof path, "%s/eim/sign/key.pem", pki_dir);
  rsp_err_t rc = rsp_signer_inproc_load(path, &e->signer);
  if (rc != RSP_OK) return rc;
  snprintf(path, sizeof path, "%s/eim/sign/cert.der", pki_dir);
  uint8_t *der = rsp_test_read_file(path, &len);
  if (!der) return RSP_E_IO;
  rc = rsp_buf_append(&e->cert, der, len);
  rsp_free(der);
  return rc;
}

void rsp_test_eim_free(struct rsp_test_eim *e) {
  rsp_signer_destroy(e->signer);
  rsp_buf_free(&e->cert);
}

rsp_err_t rsp_test_eim_add_initial_tls(const struct rsp_test_eim *e, const char *eim_id,
                                       int64_t counter, const char *fqdn, const uint8_t *tls,
                                       size_t tls_len, bool tls_is_spki, struct rsp_buf *out) {
  struct rsp_msg_eim_configuration_data_eim_public_key_data pk = {
      .which = RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE,
      .u.eim_certificate = rsp_msg_slice(e->cert.data, e->cert.len)};
  struct rsp_msg_eim_configuration_data_trusted_public_key_data_tls t = {
      .which =
          tls_is_spki
              ? RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS
              : RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS};
  if (tls_is_spki)
    t.u.trusted_eim_pk_tls = rsp_msg_slice(tls, tls_len);
  else
    t.u.trusted_certificate_tls = rsp_msg_slice(tls, tls_len);
  if (!fqdn) fqdn = "eim.example";
  struct rsp_msg_eim_configuration_data cfg = {.eim_id = rsp_msg_slice(eim_id, strlen(eim_id)),
                                               .eim_fqdn = rsp_msg_slice(fqdn, strlen(fqdn)),
                                               .counter_value = rsp_msg_int_make(counter),
                                               .association_token = rsp_msg_int_make(-1),
                                               .eim_public_key_data = &pk,
                                               .trusted_public_key_data_tls = tls ? &t : NULL};
  struct rsp_msg_add_initial_eim_request_eim_configuration_data_list l = {.v = &cfg, .n = 1};
  struct rsp_msg_add_initial_eim_request q = {.eim_configuration_data_list = &l};
  return rsp_msg_encode(&rsp_msgt_add_initial_eim_request, &q, out, NULL);
}

rsp_err_t rsp_test_eim_add_initial(const struct rsp_test_eim *e, const char *eim_id,
                                   int64_t counter, struct rsp_buf *out) {
  return rsp_test_eim_add_initial_tls(e, eim_id, counter, NULL, NULL, 0, false, out);
}

rsp_err_t rsp_test_eim_package_any(const struct rsp_test_eim *e, const char *eim_id,
                                   const uint8_t eid[16], int64_t counter,
                                   const struct rsp_msg_euicc_package *pkg, bool corrupt,
                                   struct rsp_buf *out) {
  struct rsp_msg_euicc_package_signed ps = {.eim_id = rsp_msg_slice(eim_id, strlen(eim_id)),
                                            .eid_value = rsp_msg_slice(eid, 16),
                                            .counter_value = counter,
                                            .eim_transaction_id = rsp_msg_slice("\x01\x02", 2),
                                            .euicc_package = (struct rsp_msg_euicc_package *)pkg};
  struct rsp_buf der, in;
  uint8_t sig[64];
  rsp_buf_init(&der, 1 << 16);
  rsp_buf_init(&in, 1 << 16);
  struct rsp_msg_token tok = {true, e->token};
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_euicc_package_signed, &ps, &der, NULL);
  if (rc == RSP_OK) rc = rsp_msg_signed_with_token(rsp_msg_slice(der.data, der.len), tok, &in);
  if (rc == RSP_OK) rc = rsp_signer_sign(e->signer, in.data, in.len, sig);
  if (corrupt) sig[5] ^= 1;
  struct rsp_msg_euicc_package_request rq = {.euicc_package_signed = &ps,
                                             .eim_signature = rsp_msg_slice(sig, 64)};
  if (rc == RSP_OK) rc = rsp_msg_encode(&rsp_msgt_euicc_package_request, &rq, out, NULL);
  rsp_buf_free(&der);
  rsp_buf_free(&in);
  return rc;
}

rsp_err_t rsp_test_eim_package(const struct rsp_test_eim *e, const char *eim_id,
                               const uint8_t eid[16], int64_t counter,
                               const struct rsp_msg_psmo *ops, size_t n, bool corrupt,
                               struct rsp_buf *out) {
  struct rsp_msg_euicc_package_psmo_list l = {.v = (struct rsp_msg_psmo *)ops, .n = n};
  struct rsp_msg_euicc_package pkg = {.which = RSP_MSG_EUICC_PACKAGE_PSMO_LIST, .u.psmo_list = &l};
  return rsp_test_eim_package_any(e, eim_id, eid, counter, &pkg, corrupt, out);
}
