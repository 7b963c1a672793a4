/* openrsp IPA: what the IPA reads from the card before it talks to an eIM: the eIM
 * configuration (SGP.32 ES10b.GetEimConfigurationData, BF55), from which the eIM's address
 * (eimFqdn) and the TLS trust anchor (trustedPublicKeyDataTls) come. */
#ifndef RSP_IPA_CONFIG_H
#define RSP_IPA_CONFIG_H

#include "rsp/core/arena.h"
#include "rsp/ipa/es10.h"
#include "rsp/msg/asn1.h"

/* Reads the card's eIM configuration over an open ES10 client; the entry whose eimId is
 * `eim_id`, or the first one when eim_id is NULL. RSP_E_NOT_FOUND when the card has no (such)
 * eIM. The result lives in the arena. */
rsp_err_t rsp_ipa_read_eim_config(struct rsp_es10_client *es10, const char *eim_id,
                                  struct rsp_arena *a, struct rsp_msg_eim_configuration_data **out);

/* Reads the EID (GetEuiccData with tag 5A) over an open ES10 client. */
rsp_err_t rsp_ipa_read_eid(struct rsp_es10_client *es10, uint8_t eid[16]);

#endif
