/* openrsp fleet simulator: the network model (rsp-fleet, docs/fleet.md).
 *
 * A small model of where devices are and which networks they can attach to: a list of countries
 * with the share of the fleet in each, and a list of operators, each known by the ICCID prefixes
 * of its profiles (the issuer identification number in the ICCID) and covering some countries.
 * A device is attached when the profile enabled on its card belongs to an operator that covers
 * the device's country. A device with no enabled profile uses its bootstrap connectivity, which
 * the model may allow everywhere (the default) or nowhere. The IPA's connectivity hook reads
 * this, so enabling a profile without coverage makes the IPA roll the switch back.
 *
 * The model is read from JSON:
 *   {"countries": [{"code": "DE", "share": 40}, ...],
 *    "operators": [{"name": "A", "iccidPrefixes": ["89882470"], "countries": ["DE", "FR"]}, ...],
 *    "bootstrapEverywhere": true,
 *    "movesPerDeviceHour": 0}
 * Pure logic: no I/O beyond rsp_fleet_model_load's file read, thread-safe once loaded. */
#ifndef RSP_FLEET_MODEL_H
#define RSP_FLEET_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/error.h"

#define RSP_FLEET_COUNTRIES_MAX 64
#define RSP_FLEET_OPERATORS_MAX 64
#define RSP_FLEET_PREFIXES_MAX 16  /* ICCID prefixes per operator */
#define RSP_FLEET_CODE_MAX 8       /* country code, e.g. "DE" */
#define RSP_FLEET_NAME_MAX 64      /* operator name */
#define RSP_FLEET_PREFIX_DIGITS 19 /* an ICCID prefix: 1 to 19 digits */
#define RSP_FLEET_MODEL_MAX 65536u /* the JSON text */
#define RSP_FLEET_NO_OPERATOR (-1)

struct rsp_fleet_country {
  char code[RSP_FLEET_CODE_MAX + 1];
  unsigned share; /* weight among the countries (any positive scale) */
};

struct rsp_fleet_operator {
  char name[RSP_FLEET_NAME_MAX + 1];
  char prefixes[RSP_FLEET_PREFIXES_MAX][RSP_FLEET_PREFIX_DIGITS + 1];
  size_t n_prefixes;
  uint64_t coverage; /* bit i: covers countries[i] */
};

struct rsp_fleet_model {
  struct rsp_fleet_country countries[RSP_FLEET_COUNTRIES_MAX];
  size_t n_countries;
  struct rsp_fleet_operator operators[RSP_FLEET_OPERATORS_MAX];
  size_t n_operators;
  bool bootstrap_everywhere;
  double moves_per_device_hour; /* how often a device changes country (0: never) */
  unsigned total_share;
};

/* The built-in model (rsp-fleet --print-model shows it): DE 40, FR 30, NO 30; operator A
 * (ICCIDs 89882470...) in all three, operator B (89882471...) in DE and FR only. */
extern const char rsp_fleet_model_default_json[];

/* Parses a model. On RSP_E_INVALID_ARG, `why` (may be NULL) says what is wrong, with the JSON
 * path ("operators[1].countries[0]: unknown country XX"). */
rsp_err_t rsp_fleet_model_parse(const char *json, size_t len, struct rsp_fleet_model *m, char *why,
                                size_t why_size);
/* Reads and parses a file (at most RSP_FLEET_MODEL_MAX bytes); NULL: the built-in model. */
rsp_err_t rsp_fleet_model_load(const char *path, struct rsp_fleet_model *m, char *why,
                               size_t why_size);

/* The country of a device: a stable pick by the countries' shares from its EID and a seed, so
 * the same fleet lands the same way on every run. */
size_t rsp_fleet_model_place(const struct rsp_fleet_model *m, const char *eid, uint64_t seed);
/* Another country than `from` (chosen by share with `r`, any 64-bit random value); `from` when
 * there is only one country. */
size_t rsp_fleet_model_move(const struct rsp_fleet_model *m, size_t from, uint64_t r);

/* The operator of an ICCID (its digits, without padding): the longest matching prefix, or
 * RSP_FLEET_NO_OPERATOR. */
int rsp_fleet_model_operator(const struct rsp_fleet_model *m, const char *iccid);
/* Is a device in `country` attached with `iccid` enabled ("" or NULL: none enabled, bootstrap)?
 * A profile of no known operator attaches nowhere. */
bool rsp_fleet_model_attached(const struct rsp_fleet_model *m, size_t country, const char *iccid);
/* Country index of a code, or -1. */
int rsp_fleet_model_country(const struct rsp_fleet_model *m, const char *code);

#endif
