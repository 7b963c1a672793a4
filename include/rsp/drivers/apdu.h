/* openrsp drivers: APDU transports for the IPA (struct rsp_apdu_ops implementations).
 *   - inproc: a software eUICC (lib/euicc) in the same process (tests, the fleet simulator);
 *   - socket: rsp-euicc --listen over TCP (2-byte big-endian length, then the APDU, both ways).
 *   - at: a cellular modem's serial line, AT+CSIM;
 *   - pcsc: a card in a PC/SC reader (pcscd). */
#ifndef RSP_DRIVERS_APDU_H
#define RSP_DRIVERS_APDU_H

#include "rsp/euicc/euicc.h"
#include "rsp/ipa/apdu.h"

/* The card stays owned by the caller. connect() power-cycles it (rsp_euicc_reset). */
void rsp_apdu_inproc_init(struct rsp_apdu *a, struct rsp_euicc *card);

/* host: a numeric address (IPv4 or IPv6); the connection opens on connect() and closes on
 * disconnect(); a read or write timeout of `timeout_ms` fails the APDU with RSP_E_IO. */
rsp_err_t rsp_apdu_socket_new(const char *host, unsigned port, int timeout_ms, struct rsp_apdu *a);
void rsp_apdu_socket_free(struct rsp_apdu *a); /* NULL-safe */

/* A modem's serial line (e.g. /dev/ttyUSB2) through AT+CSIM (3GPP TS 27.007 §8.17). */
rsp_err_t rsp_apdu_at_new(const char *device, int timeout_ms, struct rsp_apdu *a);
void rsp_apdu_at_free(struct rsp_apdu *a); /* NULL-safe */

/* A card in a PC/SC reader through libpcsclite (drivers/apdu_pcsc.c; built when libpcsclite is
 * found, and then RSP_HAVE_PCSC is defined). reader: NULL or "" takes the first reader with a
 * card; a name matches exactly, or as a prefix when only one reader starts with it. protocols:
 * RSP_APDU_PCSC_T0 and/or RSP_APDU_PCSC_T1, 0 for both. connect() waits up to `timeout_ms` for
 * the reader and a card, then shares the card with other PC/SC clients; a PC/SC failure (card
 * removed or reset, reader gone, pcscd stopped) ends the session with RSP_E_IO until the next
 * connect(). */
#define RSP_APDU_PCSC_T0 0x1u
#define RSP_APDU_PCSC_T1 0x2u
rsp_err_t rsp_apdu_pcsc_new(const char *reader, unsigned protocols, int timeout_ms,
                            struct rsp_apdu *a);
void rsp_apdu_pcsc_free(struct rsp_apdu *a); /* NULL-safe */

#endif
