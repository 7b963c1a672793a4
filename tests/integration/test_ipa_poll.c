/* The IPA core's eIM package loop against a test eIM that serves prepared, correctly signed
 * packages, with a software eUICC behind the in-process APDU driver: eUICC packages are executed
 * on the card and their signed results reach the eIM, an IpaEuiccDataRequest is answered from
 * the card, and the eIM's acknowledgements remove the results from the card.
 *
 *   test_ipa_poll RSP_PKI_BINARY */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/euicc/euicc_internal.h"
#include "euicc_eim.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/signed.h"
#include "rsp/msg/tags.h"
#include "test.h"

#define MAX_QUEUE 8

static const char *pki_bin;
static char pki_dir[600], eid[RSP_EID_DIGITS + 1];

/* ---- the test eIM ---- */

struct fake_eim {
  struct rsp_buf queue[MAX_QUEUE]; /* GetEimPackageResponse alternatives (DER: BF51 or BF52) */
  size_t n_queue, next;
  struct rsp_buf results[MAX_QUEUE]; /* the EimPackageResult elements received, DER */
  size_t n_results;
  struct rsp_arena arena;
};

/* Answer to ProvideEimPackageResult: acknowledge the sequence number of a signed result. */
static rsp_err_t answer_result(struct fake_eim *f,
                               const struct rsp_msg_provide_eim_package_result *p,
                               struct rsp_buf *resp) {
  static int64_t seqs[1];
  struct rsp_msg_eim_acknowledgements acks = {.v = seqs, .n = 0};
  struct rsp_msg_provide_eim_package_result_response_empty_response empty = {0};
  struct rsp_msg_provide_eim_package_result_response r = {
      .which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE,
      .u.empty_response = &empty};
  const struct rsp_msg_eim_package_result *res = p->eim_package_result;
  if (f->n_results < MAX_QUEUE) {
    rsp_buf_init(&f->results[f->n_results], 1 << 16);
    rsp_buf_append(&f->results[f->n_results++], res->raw.p, res->raw.len);
  }
  if (res->which == RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT &&
      res->u.euicc_package_result->which ==
          RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) {
    seqs[0] = res->u.euicc_package_result->u.euicc_package_result_signed
                  ->euicc_package_result_data_signed->seq_number;
    acks.n = 1;
    r.which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS;
    r.u.eim_acknowledgements = &acks;
  }
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE,
      .u.provide_eim_package_result_response = &r};
  return rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &m, resp, NULL);
}

/* Answer to GetEimPackage: the next queued package, or noEimPackageAvailable. */
static rsp_err_t answer_get(struct fake_eim *f, struct rsp_buf *resp) {
  struct rsp_msg_get_eim_package_response g = {
      .which = RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR, .u.eim_package_error = 1};
  if (f->next < f->n_queue) {
    struct rsp_buf *q = &f->queue[f->next++];
    void *v = NULL;
    rsp_err_t rc =
        rsp_msg_decode(&rsp_msgt_get_eim_package_response, q->data, q->len, &f->arena, &v, NULL);
    if (rc != RSP_OK) return rc;
    g = *(struct rsp_msg_get_eim_package_response *)v;
  }
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE,
      .u.get_eim_package_response = &g};
  return rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &m, resp, NULL);
}

static rsp_err_t eim_exchange(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp) {
  struct fake_eim *f = ctx;
  struct rsp_msg_esipa_message_from_ipa_to_eim *m = NULL;
  uint8_t *copy = rsp_arena_alloc(&f->arena, len);
  memcpy(copy, req, len);
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_esipa_message_from_ipa_to_eim, copy, len, &f->arena,
                                (void **)&m, NULL);
  if (rc != RSP_OK) return rc;
  if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST) {
    CHECK(m->u.get_eim_package_request->eid_value.len == 16);
    return answer_get(f, resp);
  }
  if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT)
    return answer_result(f, m->u.provide_eim_package_result, resp);
  return RSP_E_UNSUPPORTED;
}

static const struct rsp_ipa_esipa_ops eim_ops = {"test-eim", eim_exchange};

/* Queues a GetEimPackageResponse carrying `inner` (a BF51 or BF52 element). */
static void queue(struct fake_eim *f, const struct rsp_buf *inner) {
  struct rsp_buf *q = &f->queue[f->n_queue++];
  rsp_buf_init(q, 1 << 16);
  uint8_t hdr[8];
  size_t n = rsp_der_encode_tag(RSP_TAG_GET_EIM_PACKAGE_RESPONSE, hdr);
  n += rsp_der_encode_len(inner->len, hdr + n);
  rsp_buf_append(q, hdr, n);
  rsp_buf_append(q, inner->data, inner->len);
}

/* ---- the card ---- */

static void make_pki(void) {
  char cmd[2048];
  snprintf(pki_dir, sizeof pki_dir, "%s/pki", rsp_test_tmpdir("ipa_poll"));
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000321:1 >/dev/null",
           pki_bin, pki_dir);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", pki_dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(eid, sizeof eid, f)) rsp_test_fail(__FILE__, __LINE__, "no eUICC");
  if (f) pclose(f);
  eid[strcspn(eid, "\n")] = '\0';
}

static void install(struct rsp_euicc *c, const char *digits) {
  uint8_t iccid[RSP_ICCID_LEN], hash[32] = {0};
  struct euicc_profile *p;
  struct rsp_buf md;
  rsp_iccid_encode(digits, iccid);
  struct rsp_msg_sgp32_store_metadata_request m = {.iccid = rsp_msg_slice(iccid, 10),
                                                   .service_provider_name = rsp_msg_slice("Op", 2),
                                                   .profile_name = rsp_msg_slice("P", 1)};
  rsp_buf_init(&md, 4096);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_sgp32_store_metadata_request, &m, &md, NULL));
  CHECK_OK(rsp__euicc_install(c, rsp_msg_slice(md.data, md.len), iccid, hash, 1, &p));
  CHECK_OK(rsp__euicc_commit(c));
  rsp_buf_free(&md);
}

/* ---- the rollback watchdog ---- */

/* The device's network: no coverage for one profile; time moves only when the IPA waits. The
 * wall clock is `now` shifted by `wall_offset` (a restart may jump it). */
struct network {
  struct rsp_euicc *card;
  uint8_t dead[RSP_ICCID_LEN]; /* no coverage for this profile */
  int64_t now, wall_offset;
  bool card_cut_when_armed; /* the card stops answering once the watchdog is recorded */
  bool card_cut;
  struct rsp_buf *records; /* the storage's "rollback" record (len 0: none) */
};

static bool net_attached(void *ctx) {
  struct network *n = ctx;
  struct euicc_profile *p = rsp__euicc_enabled_profile(n->card);
  return p && memcmp(p->iccid, n->dead, RSP_ICCID_LEN) != 0;
}

static int64_t net_now(void *ctx) { return ((struct network *)ctx)->now; }

static void net_wait(void *ctx, int ms) {
  struct network *n = ctx;
  n->now += ms;
  if (n->card_cut_when_armed && n->records && n->records->len) n->card_cut = true;
}

static int64_t net_wall(void *ctx) {
  struct network *n = ctx;
  return n->now + n->wall_offset;
}

static const struct rsp_ipa_platform_ops net_ops = {net_attached, net_now, net_wait, NULL};
static const struct rsp_ipa_platform_ops net_wall_ops = {net_attached, net_now, net_wait, net_wall};

/* In-memory storage holding the one record the watchdog uses. */
static rsp_err_t mem_load(void *ctx, const char *name, struct rsp_buf *out) {
  struct rsp_buf *r = ctx;
  if (strcmp(name, "rollback") != 0) return RSP_E_NOT_FOUND;
  return r->len ? rsp_buf_append(out, r->data, r->len) : RSP_E_NOT_FOUND;
}

static rsp_err_t mem_save(void *ctx, const char *name, const uint8_t *data, size_t len) {
  struct rsp_buf *r = ctx;
  if (strcmp(name, "rollback") != 0) return RSP_OK;
  rsp_buf_reset(r);
  return rsp_buf_append(r, data, len);
}

static rsp_err_t mem_erase(void *ctx, const char *name) {
  if (strcmp(name, "rollback") == 0) rsp_buf_reset((struct rsp_buf *)ctx);
  return RSP_OK;
}

static const struct rsp_ipa_storage_ops mem_storage = {mem_load, mem_save, mem_erase};

/* The card behind a switch the test can cut (a device powered off mid-operation). */
struct cut_card {
  struct rsp_apdu inner;
  struct network *net;
};

static rsp_err_t cut_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen) {
  struct cut_card *k = ctx;
  if (k->net->card_cut) return RSP_E_IO;
  return k->inner.ops->transmit(k->inner.ctx, c, clen, r, rlen);
}

static const struct rsp_apdu_ops cut_ops = {"cut", NULL, cut_transmit, NULL};

/* A card with profiles A and B, an eIM association, and two packages queued: enable A, then
 * enable B with rollbackFlag. B has no network. */
struct rollback_fixture {
  struct rsp_euicc *card;
  struct fake_eim eim;
  struct rsp_test_eim e;
  struct rsp_buf b, out;
  uint8_t a[10], bb[10];
  struct network net;
};

static bool rollback_setup(struct rollback_fixture *x) {
  memset(x, 0, sizeof *x);
  if (!pki_dir[0]) make_pki();
  struct rsp_euicc_options o = {.pki_dir = pki_dir, .eid = eid};
  CHECK_OK(rsp_euicc_open(&o, &x->card));
  if (!x->card) return false;
  install(x->card, "8944000000000000011");
  install(x->card, "8944000000000000029");
  rsp_iccid_encode("8944000000000000011", x->a);
  rsp_iccid_encode("8944000000000000029", x->bb);
  CHECK_OK(rsp_test_eim_load(&x->e, pki_dir));
  rsp_buf_init(&x->b, 1 << 16);
  rsp_buf_init(&x->out, 1 << 16);
  CHECK_OK(rsp_test_eim_add_initial(&x->e, "eim-1", 10, &x->b));
  CHECK_OK(rsp_euicc_es10(x->card, x->b.data, x->b.len, &x->out));
  x->e.token = x->card->st.eims[0].token;
  rsp_arena_init(&x->eim.arena, RSP_MSG_ARENA_CAP);
  struct rsp_msg_psmo_enable en = {.iccid = rsp_msg_slice(x->a, 10)};
  struct rsp_msg_psmo op = {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en};
  rsp_buf_reset(&x->b);
  CHECK_OK(rsp_test_eim_package(&x->e, "eim-1", x->card->eid, 11, &op, 1, false, &x->b));
  queue(&x->eim, &x->b);
  struct rsp_msg_psmo_enable enb = {.iccid = rsp_msg_slice(x->bb, 10), .rollback_flag = true};
  struct rsp_msg_psmo opb = {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &enb};
  rsp_buf_reset(&x->b);
  CHECK_OK(rsp_test_eim_package(&x->e, "eim-1", x->card->eid, 12, &opb, 1, false, &x->b));
  queue(&x->eim, &x->b);
  x->net.card = x->card;
  x->net.now = 1000;
  memcpy(x->net.dead, x->bb, RSP_ICCID_LEN);
  return true;
}

static void rollback_teardown(struct rollback_fixture *x) {
  for (size_t i = 0; i < x->eim.n_queue; i++) rsp_buf_free(&x->eim.queue[i]);
  for (size_t i = 0; i < x->eim.n_results; i++) rsp_buf_free(&x->eim.results[i]);
  rsp_arena_free(&x->eim.arena);
  rsp_buf_free(&x->b);
  rsp_buf_free(&x->out);
  rsp_test_eim_free(&x->e);
  rsp_euicc_destroy(x->card);
}

/* The n-th result the eIM got is the switch to B with rollbackResult appended. */
static void check_rolled_back_result(struct rollback_fixture *x, size_t n) {
  struct rsp_msg_eim_package_result *r = NULL;
  CHECK(x->eim.n_results > n);
  if (x->eim.n_results > n)
    CHECK_OK(rsp_msg_decode(&rsp_msgt_eim_package_result, x->eim.results[n].data,
                            x->eim.results[n].len, &x->eim.arena, (void **)&r, NULL));
  if (!r) return;
  CHECK_EQ(r->which, RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT);
  if (r->which != RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT) return;
  const struct rsp_msg_euicc_package_result_data_signed *d =
      r->u.euicc_package_result->u.euicc_package_result_signed->euicc_package_result_data_signed;
  CHECK_EQ(d->counter_value, 12);
  CHECK(d->euicc_result->n == 2 &&
        d->euicc_result->v[1].which == RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT);
}

static void rollback_without_network(void) {
  struct rollback_fixture x;
  struct rsp_apdu apdu;
  struct rsp_ipa ipa;
  if (!rollback_setup(&x)) return;
  rsp_apdu_inproc_init(&apdu, x.card);
  rsp_ipa_init(&ipa, &apdu, &eim_ops, &x.eim);
  ipa.platform = &net_ops;
  ipa.platform_ctx = &x.net;
  ipa.rollback_timeout_ms = 30000;
  CHECK_OK(rsp_ipa_poll(&ipa));
  CHECK_EQ(ipa.stats.rollbacks, 1);
  CHECK(x.net.now >= 1000 + 30000); /* it waited the whole timeout first */
  CHECK(rsp__euicc_enabled_profile(x.card) == rsp__euicc_profile_by_iccid(x.card, x.a));
  CHECK_EQ(x.eim.n_results, 2);
  check_rolled_back_result(&x, 1); /* the eIM got the switch's result with rollbackResult */
  rollback_teardown(&x);
}

/* The device goes down while the watchdog waits (here: the card stops answering, so the
 * ProfileRollback at the end of the wait fails and the poll fails). After the restart the IPA
 * finds the record, waits only for the time that was left, rolls back and delivers the switch's
 * result (kept pending on the card) before asking for new work. */
static void rollback_after_restart(void) {
  struct rollback_fixture x;
  struct cut_card k;
  struct rsp_apdu apdu;
  struct rsp_ipa ipa;
  struct rsp_buf record;
  if (!rollback_setup(&x)) return;
  rsp_buf_init(&record, RSP_IPA_RECORD_MAX);
  x.net.records = &record;
  x.net.card_cut_when_armed = true;
  x.net.wall_offset = 1795000000000;
  rsp_apdu_inproc_init(&k.inner, x.card);
  k.net = &x.net;
  apdu.ops = &cut_ops;
  apdu.ctx = &k;
  rsp_ipa_init(&ipa, &apdu, &eim_ops, &x.eim);
  ipa.platform = &net_wall_ops;
  ipa.platform_ctx = &x.net;
  ipa.storage = &mem_storage;
  ipa.storage_ctx = &record;
  ipa.rollback_timeout_ms = 30000;
  CHECK(rsp_ipa_poll(&ipa) != RSP_OK);
  CHECK_EQ(ipa.stats.rollbacks, 0);
  CHECK(rsp__euicc_enabled_profile(x.card) == rsp__euicc_profile_by_iccid(x.card, x.bb));
  CHECK_EQ(x.eim.n_results, 1); /* enable A only: the switch's result is still on the card */
  CHECK(record.len > 0 && memcmp(record.data, "started=", 8) == 0);
  /* the restart: a new IPA on the same storage; the wall clock says 12 s of the 30 s are gone
   * (the device was off for that long) */
  int64_t started = 0, timeout = 0;
  rsp_buf_append(&record, "", 1);
  CHECK(sscanf((const char *)record.data, "started=%lld timeout=%lld", (long long *)&started,
               (long long *)&timeout) == 2);
  record.len--;
  CHECK_EQ(timeout, 30000);
  x.net.card_cut = x.net.card_cut_when_armed = false;
  x.net.now = 5000;
  x.net.wall_offset = started + 12000 - x.net.now;
  rsp_ipa_init(&ipa, &apdu, &eim_ops, &x.eim);
  ipa.platform = &net_wall_ops;
  ipa.platform_ctx = &x.net;
  ipa.storage = &mem_storage;
  ipa.storage_ctx = &record;
  CHECK_OK(rsp_ipa_poll(&ipa));
  CHECK_EQ(ipa.stats.rollbacks, 1);
  CHECK(x.net.now >= 5000 + 18000 && x.net.now < 5000 + 18000 + 2000); /* the 18 s left */
  CHECK(rsp__euicc_enabled_profile(x.card) == rsp__euicc_profile_by_iccid(x.card, x.a));
  CHECK_EQ(record.len, 0);
  CHECK_EQ(ipa.stats.redelivered, 1);
  check_rolled_back_result(&x, 1);
  /* nothing is left: the next poll neither waits nor rolls back */
  int64_t before = x.net.now;
  CHECK_OK(rsp_ipa_poll(&ipa));
  CHECK_EQ(x.net.now, before);
  CHECK_EQ(ipa.stats.rollbacks, 1);
  rsp_buf_free(&record);
  rollback_teardown(&x);
}

static void poll_cycle(void) {
  struct rsp_euicc *c = NULL;
  struct rsp_apdu apdu;
  struct rsp_ipa ipa;
  struct fake_eim f = {0};
  struct rsp_test_eim e;
  struct rsp_buf b, out;
  uint8_t a[10], bb[10];
  if (!pki_dir[0]) make_pki();
  struct rsp_euicc_options o = {.pki_dir = pki_dir, .eid = eid};
  CHECK_OK(rsp_euicc_open(&o, &c));
  if (!c) return;
  install(c, "8944000000000000011");
  install(c, "8944000000000000029");
  rsp_iccid_encode("8944000000000000011", a);
  rsp_iccid_encode("8944000000000000029", bb);
  CHECK_OK(rsp_test_eim_load(&e, pki_dir));
  rsp_buf_init(&b, 1 << 16);
  rsp_buf_init(&out, 1 << 16);
  CHECK_OK(rsp_test_eim_add_initial(&e, "eim-1", 10, &b));
  CHECK_OK(rsp_euicc_es10(c, b.data, b.len, &out));
  e.token = c->st.eims[0].token;
  rsp_arena_init(&f.arena, RSP_MSG_ARENA_CAP);
  /* queue: enable A; IpaEuiccDataRequest; enable B with rollback */
  struct rsp_msg_psmo_enable en = {.iccid = rsp_msg_slice(a, 10)};
  struct rsp_msg_psmo op = {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en};
  rsp_buf_reset(&b);
  CHECK_OK(rsp_test_eim_package(&e, "eim-1", c->eid, 11, &op, 1, false, &b));
  queue(&f, &b);
  static const uint8_t tags[] = {0xBF, 0x20, 0xBF, 0x22, 0xA5, 0xA6, 0xA2, 0x81};
  struct rsp_msg_ipa_euicc_data_request dq = {.tag_list = rsp_msg_slice(tags, sizeof tags),
                                              .eim_transaction_id = rsp_msg_slice("\x07", 1)};
  rsp_buf_reset(&b);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, &dq, &b, NULL));
  queue(&f, &b);
  struct rsp_msg_psmo_enable enb = {.iccid = rsp_msg_slice(bb, 10), .rollback_flag = true};
  struct rsp_msg_psmo opb = {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &enb};
  rsp_buf_reset(&b);
  CHECK_OK(rsp_test_eim_package(&e, "eim-1", c->eid, 12, &opb, 1, false, &b));
  queue(&f, &b);

  rsp_apdu_inproc_init(&apdu, c);
  rsp_ipa_init(&ipa, &apdu, &eim_ops, &f);
  CHECK_OK(rsp_ipa_poll(&ipa));
  CHECK_EQ(ipa.stats.packages, 2);
  CHECK_EQ(ipa.stats.data_requests, 1);
  CHECK_EQ(ipa.stats.acknowledged, 2);
  CHECK_EQ(ipa.stats.errors, 0);
  CHECK_EQ(f.n_results, 3);
  CHECK(rsp__euicc_enabled_profile(c) == rsp__euicc_profile_by_iccid(c, bb));
  CHECK(c->st.rollback_granted);
  for (size_t i = 0; i < c->st.n_notifications; i++) CHECK(!c->st.notifications[i].is_epr);
  /* the IpaEuiccData carried what was asked */
  struct rsp_msg_eim_package_result *r1 = NULL;
  if (f.n_results == 3) {
    CHECK_OK(rsp_msg_decode(&rsp_msgt_eim_package_result, f.results[1].data, f.results[1].len,
                            &f.arena, (void **)&r1, NULL));
    CHECK(r1 && r1->which == RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE);
    const struct rsp_msg_ipa_euicc_data *d =
        r1 ? r1->u.ipa_euicc_data_response->u.ipa_euicc_data : NULL;
    CHECK(d && d->euicc_info1 && d->euicc_info2 && d->eum_certificate.p && d->euicc_certificate.p &&
          d->euicc_package_result_list);
    CHECK(d && d->eim_transaction_id.len == 1);
    /* the first result was acknowledged before: the list the card gives is empty */
    CHECK(d && d->euicc_package_result_list && d->euicc_package_result_list->n == 0);
  }
  /* nothing left: a second poll asks once and stops */
  CHECK_OK(rsp_ipa_poll(&ipa));
  CHECK_EQ(ipa.stats.packages, 2);
  for (size_t i = 0; i < f.n_queue; i++) rsp_buf_free(&f.queue[i]);
  for (size_t i = 0; i < f.n_results; i++) rsp_buf_free(&f.results[i]);
  rsp_arena_free(&f.arena);
  rsp_buf_free(&b);
  rsp_buf_free(&out);
  rsp_test_eim_free(&e);
  rsp_euicc_destroy(c);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(poll_cycle), T(rollback_without_network),
                                               T(rollback_after_restart)};
  if (argc < 2) return 2;
  pki_bin = argv[1];
  rsp_log_set_level(RSP_LOG_WARN);
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
