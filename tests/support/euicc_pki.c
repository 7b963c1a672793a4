/* openrsp test support: a minimal eUICC PKI directory made with lib/crypto (see euicc_pki.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "euicc_pki.h"

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rsp/crypto/pki.h"
#include "rsp/crypto/signer.h"
#include "rsp/crypto/x509.h"

#define PKI_PATH_MAX 4096
#define PKI_EIN "89049032"

/* One party: a fresh key (written to rel/key.pem when keep_key), its certificate issued by
 * issuer (NULL: self-signed) and written to rel/cert.der. */
static rsp_err_t make_party(const char *dir, const char *rel, const struct rsp_cert_template *t,
                            enum rsp_curve curve, const struct rsp_cert *issuer,
                            struct rsp_signer *issuer_signer, bool keep_key,
                            struct rsp_signer **signer_out, struct rsp_cert **cert_out) {
  char path[PKI_PATH_MAX];
  struct rsp_key *key = NULL;
  struct rsp_signer *signer = NULL;
  struct rsp_cert *cert = NULL;
  rsp_err_t rc = RSP_E_IO;

  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  if (mkdir(path, 0700) != 0) goto out;
  if ((rc = rsp_key_generate(curve, &key)) != RSP_OK) goto out;
  snprintf(path, sizeof(path), "%s/%s/key.pem", dir, rel);
  if (keep_key && (rc = rsp_key_write_pem(key, true, path)) != RSP_OK) goto out;
  rc = rsp_signer_inproc_take_key(key, &signer);
  key = NULL;
  if (rc != RSP_OK) goto out;
  rc = rsp_pki_issue(t, rsp_signer_public_key(signer), issuer, issuer ? issuer_signer : signer,
                     &cert);
  if (rc != RSP_OK) goto out;
  snprintf(path, sizeof(path), "%s/%s/cert.der", dir, rel);
  if ((rc = rsp_pki_cert_write(cert, path, false)) != RSP_OK) goto out;
  if (signer_out) {
    *signer_out = signer;
    signer = NULL;
  }
  if (cert_out) {
    *cert_out = cert;
    cert = NULL;
  }
out:
  rsp_key_free(key);
  rsp_signer_destroy(signer);
  rsp_cert_free(cert);
  return rc;
}

rsp_err_t rsp_test_euicc_pki(const char *dir, enum rsp_curve curve, const char *const *eids,
                             size_t n_eids) {
  struct rsp_cert_template t;
  struct rsp_signer *ci_signer = NULL, *eum_signer = NULL;
  struct rsp_cert *ci = NULL, *eum = NULL;
  char path[PKI_PATH_MAX], rel[64];
  rsp_err_t rc;

  rsp_pki_template_init(&t, RSP_PKI_CI);
  if ((rc = make_party(dir, "ci", &t, curve, NULL, NULL, true, &ci_signer, &ci)) != RSP_OK)
    goto out;
  rsp_pki_template_init(&t, RSP_PKI_EUM);
  t.permitted_ein = PKI_EIN;
  rc = make_party(dir, "eum", &t, curve, ci, ci_signer, true, &eum_signer, &eum);
  if (rc != RSP_OK) goto out;
  snprintf(path, sizeof(path), "%s/euicc", dir);
  if (mkdir(path, 0700) != 0) {
    rc = RSP_E_IO;
    goto out;
  }
  for (size_t i = 0; i < n_eids && rc == RSP_OK; i++) {
    rsp_pki_template_init(&t, RSP_PKI_EUICC);
    t.eid = eids[i];
    snprintf(rel, sizeof(rel), "euicc/%s", eids[i]);
    rc = make_party(dir, rel, &t, curve, eum, eum_signer, true, NULL, NULL);
  }
out:
  rsp_signer_destroy(ci_signer);
  rsp_signer_destroy(eum_signer);
  rsp_cert_free(ci);
  rsp_cert_free(eum);
  return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void rsp_test_rmtree(const char *dir) {
  if (dir && *dir) (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
