/* The fleet simulator's network model (include/rsp/fleet/model.h). */
#include "rsp/fleet/model.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/log.h"

const char rsp_fleet_model_default_json[] =
    "{\n"
    "  \"countries\": [\n"
    "    {\"code\": \"DE\", \"share\": 40},\n"
    "    {\"code\": \"FR\", \"share\": 30},\n"
    "    {\"code\": \"NO\", \"share\": 30}\n"
    "  ],\n"
    "  \"operators\": [\n"
    "    {\"name\": \"A\", \"iccidPrefixes\": [\"89882470\"], \"countries\": [\"DE\", \"FR\", "
    "\"NO\"]},\n"
    "    {\"name\": \"B\", \"iccidPrefixes\": [\"89882471\"], \"countries\": [\"DE\", \"FR\"]}\n"
    "  ],\n"
    "  \"bootstrapEverywhere\": true,\n"
    "  \"movesPerDeviceHour\": 0\n"
    "}\n";

RSP_PRINTF(3, 4)
static rsp_err_t invalid(char *why, size_t size, const char *fmt, ...) {
  if (why && size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
  }
  return RSP_E_INVALID_ARG;
}

static bool all_digits(const char *s, size_t min, size_t max) {
  size_t n = strlen(s);
  if (n < min || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

static bool keys_known(json_t *o, const char *const *keys, const char **bad) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    size_t i = 0;
    while (keys[i] && strcmp(keys[i], k) != 0) i++;
    if (!keys[i]) {
      *bad = k;
      return false;
    }
  }
  return true;
}

static rsp_err_t parse_countries(json_t *arr, struct rsp_fleet_model *m, char *why, size_t size) {
  static const char *const keys[] = {"code", "share", NULL};
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return invalid(why, size, "countries: a non-empty array expected");
  if (json_array_size(arr) > RSP_FLEET_COUNTRIES_MAX)
    return invalid(why, size, "countries: at most %d", RSP_FLEET_COUNTRIES_MAX);
  size_t i;
  json_t *c;
  json_array_foreach(arr, i, c) {
    const char *bad = NULL;
    if (!json_is_object(c)) return invalid(why, size, "countries[%zu]: an object expected", i);
    if (!keys_known(c, keys, &bad))
      return invalid(why, size, "countries[%zu]: unknown member %s", i, bad);
    json_t *code = json_object_get(c, "code"), *share = json_object_get(c, "share");
    if (!json_is_string(code) || json_string_length(code) == 0 ||
        json_string_length(code) > RSP_FLEET_CODE_MAX)
      return invalid(why, size, "countries[%zu].code: 1 to %d characters expected", i,
                     RSP_FLEET_CODE_MAX);
    if (rsp_fleet_model_country(m, json_string_value(code)) >= 0)
      return invalid(why, size, "countries[%zu].code: %s listed twice", i, json_string_value(code));
    json_int_t sh = share ? (json_is_integer(share) ? json_integer_value(share) : -1) : 1;
    if (sh < 1 || sh > 1000000)
      return invalid(why, size, "countries[%zu].share: an integer 1 to 1000000 expected", i);
    snprintf(m->countries[i].code, sizeof m->countries[i].code, "%s", json_string_value(code));
    m->countries[i].share = (unsigned)sh;
    m->total_share += (unsigned)sh;
    m->n_countries = i + 1;
  }
  return RSP_OK;
}

static rsp_err_t parse_operator(json_t *o, size_t i, struct rsp_fleet_model *m, char *why,
                                size_t size) {
  static const char *const keys[] = {"name", "iccidPrefixes", "countries", NULL};
  struct rsp_fleet_operator *op = &m->operators[i];
  const char *bad = NULL;
  if (!json_is_object(o)) return invalid(why, size, "operators[%zu]: an object expected", i);
  if (!keys_known(o, keys, &bad))
    return invalid(why, size, "operators[%zu]: unknown member %s", i, bad);
  json_t *name = json_object_get(o, "name"), *pre = json_object_get(o, "iccidPrefixes"),
         *cov = json_object_get(o, "countries");
  if (!json_is_string(name) || json_string_length(name) == 0 ||
      json_string_length(name) > RSP_FLEET_NAME_MAX)
    return invalid(why, size, "operators[%zu].name: 1 to %d characters expected", i,
                   RSP_FLEET_NAME_MAX);
  snprintf(op->name, sizeof op->name, "%s", json_string_value(name));
  if (!json_is_array(pre) || json_array_size(pre) == 0 ||
      json_array_size(pre) > RSP_FLEET_PREFIXES_MAX)
    return invalid(why, size, "operators[%zu].iccidPrefixes: 1 to %d prefixes expected", i,
                   RSP_FLEET_PREFIXES_MAX);
  size_t k;
  json_t *v;
  json_array_foreach(pre, k, v) {
    if (!json_is_string(v) || !all_digits(json_string_value(v), 1, RSP_FLEET_PREFIX_DIGITS))
      return invalid(why, size, "operators[%zu].iccidPrefixes[%zu]: 1 to %d digits expected", i, k,
                     RSP_FLEET_PREFIX_DIGITS);
    snprintf(op->prefixes[k], sizeof op->prefixes[k], "%s", json_string_value(v));
    op->n_prefixes = k + 1;
  }
  if (!json_is_array(cov))
    return invalid(why, size, "operators[%zu].countries: an array of country codes expected", i);
  json_array_foreach(cov, k, v) {
    int c = json_is_string(v) ? rsp_fleet_model_country(m, json_string_value(v)) : -1;
    if (c < 0)
      return invalid(why, size, "operators[%zu].countries[%zu]: not a country of the model", i, k);
    op->coverage |= (uint64_t)1 << c;
  }
  return RSP_OK;
}

rsp_err_t rsp_fleet_model_parse(const char *json, size_t len, struct rsp_fleet_model *m, char *why,
                                size_t why_size) {
  static const char *const keys[] = {"countries", "operators", "bootstrapEverywhere",
                                     "movesPerDeviceHour", NULL};
  json_error_t err;
  const char *bad = NULL;
  rsp_err_t rc = RSP_OK;
  memset(m, 0, sizeof *m);
  m->bootstrap_everywhere = true;
  if (why && why_size) why[0] = '\0';
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
  if (!root) return invalid(why, why_size, "line %d: %s", err.line, err.text);
  if (!json_is_object(root)) {
    rc = invalid(why, why_size, "a JSON object expected");
    goto out;
  }
  if (!keys_known(root, keys, &bad)) {
    rc = invalid(why, why_size, "unknown member %s", bad);
    goto out;
  }
  if ((rc = parse_countries(json_object_get(root, "countries"), m, why, why_size)) != RSP_OK)
    goto out;
  json_t *ops = json_object_get(root, "operators");
  if (!json_is_array(ops) || json_array_size(ops) > RSP_FLEET_OPERATORS_MAX) {
    rc = invalid(why, why_size, "operators: an array of at most %d expected",
                 RSP_FLEET_OPERATORS_MAX);
    goto out;
  }
  for (size_t i = 0; i < json_array_size(ops); i++) {
    if ((rc = parse_operator(json_array_get(ops, i), i, m, why, why_size)) != RSP_OK) goto out;
    m->n_operators = i + 1;
  }
  json_t *b = json_object_get(root, "bootstrapEverywhere");
  if (b && !json_is_boolean(b)) {
    rc = invalid(why, why_size, "bootstrapEverywhere: true or false expected");
    goto out;
  }
  if (b) m->bootstrap_everywhere = json_is_true(b);
  json_t *mv = json_object_get(root, "movesPerDeviceHour");
  if (mv) {
    double d = json_is_number(mv) ? json_number_value(mv) : -1;
    if (!(d >= 0 && d <= 3600)) {
      rc = invalid(why, why_size, "movesPerDeviceHour: a number 0 to 3600 expected");
      goto out;
    }
    m->moves_per_device_hour = d;
  }
out:
  json_decref(root);
  return rc;
}

rsp_err_t rsp_fleet_model_load(const char *path, struct rsp_fleet_model *m, char *why,
                               size_t why_size) {
  if (!path)
    return rsp_fleet_model_parse(rsp_fleet_model_default_json,
                                 sizeof rsp_fleet_model_default_json - 1, m, why, why_size);
  FILE *f = fopen(path, "rb");
  if (!f) return invalid(why, why_size, "%s: %s", path, strerror(errno));
  char *text = malloc(RSP_FLEET_MODEL_MAX + 1);
  size_t n = text ? fread(text, 1, RSP_FLEET_MODEL_MAX + 1, f) : 0;
  bool read_error = ferror(f) != 0;
  fclose(f);
  if (!text) return RSP_E_NOMEM;
  rsp_err_t rc;
  if (read_error)
    rc = invalid(why, why_size, "%s: read error", path);
  else if (n > RSP_FLEET_MODEL_MAX)
    rc = invalid(why, why_size, "%s: larger than %u bytes", path, RSP_FLEET_MODEL_MAX);
  else
    rc = rsp_fleet_model_parse(text, n, m, why, why_size);
  free(text);
  return rc;
}

/* FNV-1a over the EID, then a 64-bit finalizer (splitmix64), so nearby EIDs spread evenly. */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static size_t pick(const struct rsp_fleet_model *m, uint64_t r, int skip) {
  unsigned total = m->total_share - (skip >= 0 ? m->countries[skip].share : 0);
  if (total == 0) return skip >= 0 ? (size_t)skip : 0;
  uint64_t at = r % total;
  for (size_t i = 0; i < m->n_countries; i++) {
    if ((int)i == skip) continue;
    if (at < m->countries[i].share) return i;
    at -= m->countries[i].share;
  }
  return m->n_countries - 1;
}

size_t rsp_fleet_model_place(const struct rsp_fleet_model *m, const char *eid, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (const char *p = eid; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
  return pick(m, mix(h), -1);
}

size_t rsp_fleet_model_move(const struct rsp_fleet_model *m, size_t from, uint64_t r) {
  if (m->n_countries < 2) return from;
  return pick(m, mix(r), (int)from);
}

int rsp_fleet_model_operator(const struct rsp_fleet_model *m, const char *iccid) {
  int best = RSP_FLEET_NO_OPERATOR;
  size_t best_len = 0;
  if (!iccid) return best;
  for (size_t i = 0; i < m->n_operators; i++)
    for (size_t k = 0; k < m->operators[i].n_prefixes; k++) {
      size_t n = strlen(m->operators[i].prefixes[k]);
      if (n > best_len && strncmp(iccid, m->operators[i].prefixes[k], n) == 0) {
        best = (int)i;
        best_len = n;
      }
    }
  return best;
}

bool rsp_fleet_model_attached(const struct rsp_fleet_model *m, size_t country, const char *iccid) {
  if (country >= m->n_countries) return false;
  if (!iccid || !iccid[0]) return m->bootstrap_everywhere;
  int op = rsp_fleet_model_operator(m, iccid);
  return op >= 0 && (m->operators[op].coverage >> country & 1u);
}

int rsp_fleet_model_country(const struct rsp_fleet_model *m, const char *code) {
  for (size_t i = 0; i < m->n_countries; i++)
    if (strcmp(m->countries[i].code, code) == 0) return (int)i;
  return -1;
}
