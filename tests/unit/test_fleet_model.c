/* The fleet simulator's network model (lib/fleet/model.c): parsing, placement, coverage. */
#include <stdio.h>
#include <string.h>

#include "rsp/fleet/model.h"
#include "test.h"

static bool parse(const char *json, struct rsp_fleet_model *m, char *why, size_t size) {
  return rsp_fleet_model_parse(json, strlen(json), m, why, size) == RSP_OK;
}

static void default_model(void) {
  struct rsp_fleet_model m;
  char why[256];
  CHECK_OK(rsp_fleet_model_load(NULL, &m, why, sizeof why));
  CHECK_EQ(m.n_countries, 3);
  CHECK_EQ(m.n_operators, 2);
  CHECK_EQ(m.total_share, 100);
  CHECK(m.bootstrap_everywhere);
  int de = rsp_fleet_model_country(&m, "DE"), no = rsp_fleet_model_country(&m, "NO");
  CHECK(de >= 0 && no >= 0);
  CHECK_EQ(rsp_fleet_model_country(&m, "XX"), -1);
  /* A covers NO, B does not */
  CHECK(rsp_fleet_model_attached(&m, (size_t)no, "8988247000000000001"));
  CHECK(!rsp_fleet_model_attached(&m, (size_t)no, "8988247100000000001"));
  CHECK(rsp_fleet_model_attached(&m, (size_t)de, "8988247100000000001"));
  /* bootstrap (nothing enabled) attaches everywhere; an unknown operator nowhere */
  CHECK(rsp_fleet_model_attached(&m, (size_t)no, ""));
  CHECK(rsp_fleet_model_attached(&m, (size_t)no, NULL));
  CHECK(!rsp_fleet_model_attached(&m, (size_t)de, "8949449999999990023"));
  CHECK(!rsp_fleet_model_attached(&m, 99, "8988247000000000001"));
  CHECK_EQ(rsp_fleet_model_operator(&m, "8988247100000000001"), 1);
  CHECK_EQ(rsp_fleet_model_operator(&m, "898824"), RSP_FLEET_NO_OPERATOR);
}

/* The longest prefix wins, whatever the order of the operators. */
static void longest_prefix(void) {
  struct rsp_fleet_model m;
  CHECK(parse("{\"countries\":[{\"code\":\"SE\"}],\"operators\":["
              "{\"name\":\"short\",\"iccidPrefixes\":[\"8946\"],\"countries\":[\"SE\"]},"
              "{\"name\":\"long\",\"iccidPrefixes\":[\"1\",\"894601\"],\"countries\":[]}]}",
              &m, NULL, 0));
  CHECK_EQ(rsp_fleet_model_operator(&m, "8946010000000000001"), 1);
  CHECK_EQ(rsp_fleet_model_operator(&m, "8946020000000000001"), 0);
  CHECK_EQ(rsp_fleet_model_operator(&m, "1234"), 1);
  CHECK(!rsp_fleet_model_attached(&m, 0, "8946010000000000001")); /* "long" covers nothing */
  CHECK(rsp_fleet_model_attached(&m, 0, "8946020000000000001"));
  CHECK_EQ(m.countries[0].share, 1); /* share defaults to 1 */
}

/* Placement follows the shares, is stable for an EID and seed, and moves change the country. */
static void placement(void) {
  struct rsp_fleet_model m;
  CHECK(parse("{\"countries\":[{\"code\":\"A\",\"share\":70},{\"code\":\"B\",\"share\":20},"
              "{\"code\":\"C\",\"share\":10}],\"operators\":[]}",
              &m, NULL, 0));
  size_t count[3] = {0, 0, 0}, moved_same = 0;
  char eid[40];
  for (int i = 0; i < 10000; i++) {
    snprintf(eid, sizeof eid, "8904903200000000000000000%07d", i);
    size_t c = rsp_fleet_model_place(&m, eid, 7);
    CHECK(c < 3);
    if (c >= 3) return;
    count[c]++;
    CHECK_EQ(rsp_fleet_model_place(&m, eid, 7), c);
    if (rsp_fleet_model_move(&m, c, (uint64_t)i * 7919u) == c) moved_same++;
  }
  CHECK(count[0] > 6500 && count[0] < 7500);
  CHECK(count[1] > 1700 && count[1] < 2300);
  CHECK(count[2] > 800 && count[2] < 1200);
  CHECK_EQ(moved_same, 0);
  /* another seed places differently */
  size_t differ = 0;
  for (int i = 0; i < 100; i++) {
    snprintf(eid, sizeof eid, "8904903200000000000000000%07d", i);
    differ += rsp_fleet_model_place(&m, eid, 7) != rsp_fleet_model_place(&m, eid, 8);
  }
  CHECK(differ > 10);
  struct rsp_fleet_model one;
  CHECK(parse("{\"countries\":[{\"code\":\"X\"}],\"operators\":[]}", &one, NULL, 0));
  CHECK_EQ(rsp_fleet_model_move(&one, 0, 12345), 0);
}

/* Every malformed model is refused with a message that names the place. */
static void invalid_models(void) {
  static const struct {
    const char *json, *why;
  } bad[] = {
      {"[]", "a JSON object expected"},
      {"{", "line 1"},
      {"{\"countries\":[],\"operators\":[]}", "countries: a non-empty array"},
      {"{\"countries\":[{\"code\":\"DE\"},{\"code\":\"DE\"}],\"operators\":[]}", "listed twice"},
      {"{\"countries\":[{\"code\":\"DE\",\"share\":0}],\"operators\":[]}", "countries[0].share"},
      {"{\"countries\":[{\"code\":\"\"}],\"operators\":[]}", "countries[0].code"},
      {"{\"countries\":[{\"code\":\"DE\",\"x\":1}],\"operators\":[]}", "unknown member x"},
      {"{\"countries\":[{\"code\":\"DE\"}],\"operators\":[{\"name\":\"A\",\"iccidPrefixes\":"
       "[\"89a\"],\"countries\":[]}]}",
       "operators[0].iccidPrefixes[0]"},
      {"{\"countries\":[{\"code\":\"DE\"}],\"operators\":[{\"name\":\"A\",\"iccidPrefixes\":"
       "[\"89\"],\"countries\":[\"FR\"]}]}",
       "operators[0].countries[0]: not a country"},
      {"{\"countries\":[{\"code\":\"DE\"}],\"operators\":[{\"name\":\"A\",\"iccidPrefixes\":[],"
       "\"countries\":[]}]}",
       "operators[0].iccidPrefixes"},
      {"{\"countries\":[{\"code\":\"DE\"}],\"operators\":[],\"bootstrapEverywhere\":1}",
       "bootstrapEverywhere"},
      {"{\"countries\":[{\"code\":\"DE\"}],\"operators\":[],\"movesPerDeviceHour\":-1}",
       "movesPerDeviceHour"},
      {"{\"countries\":[{\"code\":\"DE\"}],\"operators\":[],\"extra\":true}", "unknown member"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct rsp_fleet_model m;
    char why[256];
    CHECK(!parse(bad[i].json, &m, why, sizeof why));
    if (!strstr(why, bad[i].why)) rsp_test_fail(__FILE__, __LINE__, "%zu: %s", i, why);
  }
  struct rsp_fleet_model m;
  char why[256];
  CHECK_ERR(rsp_fleet_model_load("/nonexistent/model.json", &m, why, sizeof why),
            RSP_E_INVALID_ARG);
  CHECK(strstr(why, "/nonexistent/model.json") != NULL);
}

RSP_TESTS(T(default_model), T(longest_prefix), T(placement), T(invalid_models))
