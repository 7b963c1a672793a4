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

/* The rollback watchdog and the persistent records (watchdog.c). */
/* Waits for attachment on the current profile for up to budget_ms (true without a platform). */
bool rsp__ipa_wait_attached(struct rsp_ipa *ipa, int64_t budget_ms);
/* ProfileRollback; with `res`, *res becomes the card's new result (with rollbackResult). RSP_OK
 * also when the card refuses (logged): only a failed exchange is an error. */
rsp_err_t rsp__ipa_roll_back(struct rsp_ipa *ipa, struct rsp_arena *a,
                             struct rsp_msg_euicc_package_result **res);
void rsp__ipa_watch_arm(struct rsp_ipa *ipa);    /* before the wait: the "rollback" record */
void rsp__ipa_watch_disarm(struct rsp_ipa *ipa); /* the wait is over */
/* A watchdog recorded before a restart: wait for the time it had left, roll back without
 * attachment. RSP_OK when there was none or it is over; an error keeps the record. */
rsp_err_t rsp__ipa_watch_resume(struct rsp_ipa *ipa);
void rsp__ipa_state_change_set(struct rsp_ipa *ipa, int64_t cause);
void rsp__ipa_state_change_sent(struct rsp_ipa *ipa);
void rsp__ipa_state_change_restore(struct rsp_ipa *ipa);

#endif
