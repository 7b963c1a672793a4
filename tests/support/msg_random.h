/* Random, valid message values for property tests: walks the lib/msg descriptors and fills a
 * struct with values that respect every bound the descriptor knows. */
#ifndef RSP_TEST_MSG_RANDOM_H
#define RSP_TEST_MSG_RANDOM_H

#include <stdint.h>

#include "rsp/core/arena.h"
#include "rsp/msg/msg.h"

struct rsp_test_rng {
  uint64_t s;
};

uint32_t rsp_test_rng_next(struct rsp_test_rng *r);
/* DER of a real certificate, a SubjectPublicKeyInfo and a CRL for the opaque PKIX fields; the
 * certificate bytes must outlive the generated values. */
void rsp_test_msg_random_set_certificate(const uint8_t *der, size_t len);
/* A random value of `type`; NULL when out of memory. */
void *rsp_test_msg_random(const struct rsp_msg_type *type, struct rsp_test_rng *r,
                          struct rsp_arena *arena);

#endif
