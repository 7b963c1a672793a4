/* The ES10 function handlers of the card (one per function tag, dispatched by euicc.c). Each
 * gets the decoded request, appends the encoded response to `resp`, and sets *changed when it
 * modified the durable state (the dispatcher then commits). Function-level errors are encoded in
 * the response as the spec defines them; a returned error means the card itself failed. */
#ifndef RSP_EUICC_EUICC_HANDLERS_H
#define RSP_EUICC_EUICC_HANDLERS_H

#include "euicc_internal.h"

typedef rsp_err_t (*euicc_handler_fn)(struct rsp_euicc *c, const void *req, struct rsp_arena *a,
                                      struct rsp_buf *resp, bool *changed);

#define EUICC_HANDLER(name)                                                                        \
  rsp_err_t name(struct rsp_euicc *c, const void *req, struct rsp_arena *a, struct rsp_buf *resp,  \
                 bool *changed)

/* es10_handlers.c: SGP.22 ES10a/b/c */
EUICC_HANDLER(rsp__euicc_get_eid);
EUICC_HANDLER(rsp__euicc_get_info1);
EUICC_HANDLER(rsp__euicc_get_info2);
EUICC_HANDLER(rsp__euicc_get_challenge);
EUICC_HANDLER(rsp__euicc_get_addresses);
EUICC_HANDLER(rsp__euicc_set_default_dp);
EUICC_HANDLER(rsp__euicc_set_default_dp32);
EUICC_HANDLER(rsp__euicc_get_profiles_info);
EUICC_HANDLER(rsp__euicc_enable_profile);
EUICC_HANDLER(rsp__euicc_disable_profile);
EUICC_HANDLER(rsp__euicc_delete_profile);
EUICC_HANDLER(rsp__euicc_set_nickname);
EUICC_HANDLER(rsp__euicc_list_notification);
EUICC_HANDLER(rsp__euicc_retrieve_notifications);
EUICC_HANDLER(rsp__euicc_remove_notification);
EUICC_HANDLER(rsp__euicc_memory_reset);
EUICC_HANDLER(rsp__euicc_memory_reset32);
EUICC_HANDLER(rsp__euicc_get_rat);
EUICC_HANDLER(rsp__euicc_load_crl);

/* download.c: SGP.22 download */
EUICC_HANDLER(rsp__euicc_authenticate_server);
EUICC_HANDLER(rsp__euicc_prepare_download);
EUICC_HANDLER(rsp__euicc_cancel_session);
/* LoadBoundProfilePackage: segments are not complete TLVs, so they bypass the decoder. */
bool rsp__euicc_bpp_accepts(const struct rsp_euicc *c, const uint8_t *req, size_t len);
rsp_err_t rsp__euicc_bpp_segment(struct rsp_euicc *c, const uint8_t *req, size_t len,
                                 struct rsp_buf *resp);

/* sgp32.c: SGP.32 additions */
EUICC_HANDLER(rsp__euicc_load_euicc_package);
EUICC_HANDLER(rsp__euicc_get_eim_configuration);
EUICC_HANDLER(rsp__euicc_get_certs);
EUICC_HANDLER(rsp__euicc_add_initial_eim);
EUICC_HANDLER(rsp__euicc_profile_rollback);
EUICC_HANDLER(rsp__euicc_configure_immediate);
EUICC_HANDLER(rsp__euicc_immediate_enable);
EUICC_HANDLER(rsp__euicc_enable_emergency);
EUICC_HANDLER(rsp__euicc_disable_emergency);
EUICC_HANDLER(rsp__euicc_execute_fallback);
EUICC_HANDLER(rsp__euicc_return_from_fallback);
EUICC_HANDLER(rsp__euicc_get_connectivity);
EUICC_HANDLER(rsp__euicc_ipae_activation);

/* profiles.c: transitions shared by ES10c and the PSMOs; results are the spec's codes */
rsp_err_t rsp__euicc_do_enable(struct rsp_euicc *c, struct euicc_profile *p, bool rollback,
                               int64_t *result);
rsp_err_t rsp__euicc_do_disable(struct rsp_euicc *c, struct euicc_profile *p, int64_t *result);
rsp_err_t rsp__euicc_do_delete(struct rsp_euicc *c, struct euicc_profile *p, int64_t *result);
rsp_err_t rsp__euicc_metadata(const struct euicc_profile *p, struct rsp_arena *a,
                              struct rsp_msg_sgp32_store_metadata_request **out);
/* es10_handlers.c: ProfileInfo of one profile (for GetProfilesInfo and the listProfileInfo PSMO) */
rsp_err_t rsp__euicc_profile_info(struct rsp_euicc *c, const struct euicc_profile *p,
                                  struct rsp_slice tag_list, struct rsp_arena *a,
                                  struct rsp_msg_sgp32_profile_info *out);
/* The profiles matching a ProfileInfoListRequest, encoded as SGP32-ProfileInfoListResponse. */
rsp_err_t rsp__euicc_profiles_response(struct rsp_euicc *c,
                                       const struct rsp_msg_profile_info_list_request *r,
                                       struct rsp_arena *a, struct rsp_buf *resp);

#endif
