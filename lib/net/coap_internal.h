/* lib/net internals shared by the CoAP files (never included outside lib/net). */
#ifndef RSP_NET_COAP_INTERNAL_H
#define RSP_NET_COAP_INTERNAL_H

#include <coap3/coap.h>

#include "rsp/net/coap.h"

/* libcoap's process-wide start-up (coap_startup, its log routed to rsp_log under "libcoap"),
 * done once whoever comes first. */
void rsp__net_coap_init(void);

/* A numeric or named host and a port into a libcoap address (the first address found).
 * RSP_E_NET when it does not resolve, with a log line. */
rsp_err_t rsp__net_coap_resolve(const char *host, uint16_t port, bool numeric, coap_address_t *out);

/* "2.05" style text of a code given as class * 100 + detail. */
void rsp__net_coap_code_text(int code, char out[8]);

#endif
