/* openrsp: a software eUICC (SGP.22 v2.5 ISD-R with the SGP.32 v1.2 additions) as a library.
 *
 * One struct rsp_euicc is one card: its identity (EID, CERT.EUICC and SK.EUICC, CERT.EUM, the
 * trusted CIs, from an rsp-pki directory or the SGP.26 set), its durable state (profiles,
 * notifications, eIM associations, counters) and its volatile state (logical channels, STORE DATA
 * reassembly, the download session). The card has no network and no clock of its own beyond
 * what the options give it; apps/euicc puts it behind pcscd's virtual reader or a socket, tests
 * and the fleet simulator call it in-process.
 *
 * Every ES10 command commits completely or not at all (docs/euicc.md). */
#ifndef RSP_EUICC_EUICC_H
#define RSP_EUICC_EUICC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"

#define RSP_EUICC_MAX_ATR 33
#define RSP_EUICC_MAX_RAPDU (256 + 2) /* response data + SW1 SW2 */

struct rsp_euicc;
struct rsp_euicc_store;

struct rsp_euicc_options {
  const char *pki_dir; /* rsp-pki layout: ci/, eum/, euicc/<EID>/ (cert.der, key.pem) */
  const char *eid;     /* 32 digits; selects pki_dir/euicc/<EID> */
  /* Durable state; NULL keeps the state in memory only (tests, the fleet simulator). Several
   * cards may share one store: each is keyed by its EID. */
  struct rsp_euicc_store *store;
  /* Seconds since the epoch for certificate validity checks; NULL = time(). */
  int64_t (*now)(void *ctx);
  void *now_ctx;
  bool ignore_cert_time; /* accept expired server certificates (test PKIs from the past) */
  /* The root SM-DS address set at manufacture (ES10a.GetEuiccConfiguredAddresses
   * rootDsAddress), given to a new card; NULL or "": none. A stored card keeps its own. */
  const char *root_ds_address;
};

/* ---- durable state: SQLite file shared by the cards of one process ---- */
rsp_err_t rsp_euicc_store_open(const char *path, struct rsp_euicc_store **out);
void rsp_euicc_store_close(struct rsp_euicc_store *s); /* NULL-safe */

/* ---- one card ---- */
rsp_err_t rsp_euicc_open(const struct rsp_euicc_options *o, struct rsp_euicc **out);
void rsp_euicc_destroy(struct rsp_euicc *c); /* NULL-safe */
const char *rsp_euicc_eid(const struct rsp_euicc *c);

/* Card interface (ISO 7816-4 + SGP.22 §5.7.2, notes section 5). The ATR offers T=0 and T=1. */
size_t rsp_euicc_atr(uint8_t out[RSP_EUICC_MAX_ATR]);
/* Power on/off or warm reset: closes logical channels, drops STORE DATA and session state
 * (the durable state is untouched, as on a real card). */
void rsp_euicc_reset(struct rsp_euicc *c);
/* One command APDU in, the response APDU (data + SW1 SW2) out; *rlen is the size of rapdu on
 * input (at least RSP_EUICC_MAX_RAPDU). Protocol errors are answered with status words; the
 * return value is for failures of the card itself (out of memory, storage). */
rsp_err_t rsp_euicc_transmit(struct rsp_euicc *c, const uint8_t *capdu, size_t clen, uint8_t *rapdu,
                             size_t *rlen);

/* ES10 level, for in-process IPAs: one complete request TLV (what STORE DATA would carry) in,
 * the complete response TLV appended to `resp`. LoadBoundProfilePackage segments arrive one by
 * one, as over STORE DATA (SGP.22 §2.5.5); an empty response means "segment accepted". */
rsp_err_t rsp_euicc_es10(struct rsp_euicc *c, const uint8_t *req, size_t len, struct rsp_buf *resp);

#endif
