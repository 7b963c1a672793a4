/* openrsp drivers: APDU transports for the IPA (struct rsp_apdu_ops implementations).
 *   - inproc: a software eUICC (lib/euicc) in the same process (tests, the fleet simulator);
 *   - socket: rsp-euicc --listen over TCP (2-byte big-endian length, then the APDU, both ways).
 *   - at: a cellular modem's serial line, AT+CSIM.
 * The PC/SC driver follows the same shape. */
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

#endif
