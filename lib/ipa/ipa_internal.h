/* lib/ipa internals shared by ipa.c (the eIM package loop) and download.c (the downloads). */
#ifndef RSP_IPA_IPA_INTERNAL_H
#define RSP_IPA_IPA_INTERNAL_H

#include "rsp/core/arena.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/asn1.h"

/* Sends one EsipaMessageFromIpaToEim (complete DER) through the ESipa port and decodes the eIM's
 * answer into `a` (*out NULL when the answer is empty, as for HandleNotificationEsipa). */
rsp_err_t rsp__ipa_esipa_call(struct rsp_ipa *ipa, const uint8_t *req, size_t len,
                              struct rsp_arena *a,
                              struct rsp_msg_esipa_message_from_eim_to_ipa **out);

/* Encodes `v` as `t`, runs it on the card (ISD-R open) and decodes the answer as `rt` into `a`. */
rsp_err_t rsp__ipa_card(struct rsp_ipa *ipa, const struct rsp_msg_type *t, const void *v,
                        const struct rsp_msg_type *rt, struct rsp_arena *a, void **out);

#endif
