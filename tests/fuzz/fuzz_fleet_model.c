/* libFuzzer target for the fleet simulator's network model parser (lib/fleet/model.c). An
 * accepted model must be coherent (every share positive, coverage only of its own countries,
 * prefixes of digits) and usable (placement lands in a country); a refused one must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/fleet/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rsp_fleet_model m;
  char why[256];
  rsp_err_t rc = rsp_fleet_model_parse((const char *)data, size, &m, why, sizeof why);
  if (rc != RSP_OK) {
    if (rc != RSP_E_INVALID_ARG || !why[0]) abort();
    return 0;
  }
  if (m.n_countries == 0 || m.n_countries > RSP_FLEET_COUNTRIES_MAX) abort();
  unsigned total = 0;
  for (size_t i = 0; i < m.n_countries; i++) {
    if (m.countries[i].share == 0 || !m.countries[i].code[0]) abort();
    total += m.countries[i].share;
  }
  if (total != m.total_share) abort();
  for (size_t i = 0; i < m.n_operators; i++) {
    if (m.n_countries < 64 && (m.operators[i].coverage >> m.n_countries) != 0) abort();
    for (size_t k = 0; k < m.operators[i].n_prefixes; k++) {
      const char *p = m.operators[i].prefixes[k];
      if (!p[0] || strspn(p, "0123456789") != strlen(p)) abort();
      /* an ICCID with this prefix belongs to an operator (maybe one with a longer prefix) */
      if (rsp_fleet_model_operator(&m, p) == RSP_FLEET_NO_OPERATOR) abort();
    }
  }
  size_t c = rsp_fleet_model_place(&m, "89049032123451234512345678901235", 1);
  if (c >= m.n_countries || rsp_fleet_model_move(&m, c, 42) >= m.n_countries) abort();
  return 0;
}
