/* SGP.22 profile download on the card: AuthenticateServer, PrepareDownload,
 * LoadBoundProfilePackage, CancelSession. (Being written: answers undefinedError for now.) */
#include <string.h>

#include "euicc_handlers.h"
#include "euicc_internal.h"

void rsp__euicc_download_reset(struct rsp_euicc *c) { (void)c; }
void rsp__euicc_download_free(struct rsp_euicc *c) { (void)c; }

bool rsp__euicc_bpp_accepts(const struct rsp_euicc *c, const uint8_t *req, size_t len) {
  (void)c;
  (void)req;
  (void)len;
  return false;
}

rsp_err_t rsp__euicc_bpp_segment(struct rsp_euicc *c, const uint8_t *req, size_t len,
                                 struct rsp_buf *resp) {
  (void)c;
  (void)req;
  (void)len;
  (void)resp;
  return RSP_E_UNSUPPORTED;
}

EUICC_HANDLER(rsp__euicc_authenticate_server) {
  (void)c;
  (void)req;
  (void)a;
  (void)changed;
  (void)resp;
  return RSP_E_UNSUPPORTED;
}

EUICC_HANDLER(rsp__euicc_prepare_download) {
  (void)c;
  (void)req;
  (void)a;
  (void)changed;
  (void)resp;
  return RSP_E_UNSUPPORTED;
}

EUICC_HANDLER(rsp__euicc_cancel_session) {
  (void)c;
  (void)req;
  (void)a;
  (void)changed;
  (void)resp;
  return RSP_E_UNSUPPORTED;
}
