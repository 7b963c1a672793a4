/* Every named message tag of include/rsp/msg/tags.h is checked against the reference ASN.1
 * modules, through the descriptors the asn1c reference decoder generated from them: the
 * production exists, its outer tag has the same class and number, and it is constructed exactly
 * when the production is a SEQUENCE, SET or CHOICE. */
#include "asn_application.h"
#include "constr_CHOICE.h"
#include "constr_SEQUENCE.h"
#include "constr_SEQUENCE_OF.h"
#include "constr_SET_OF.h"
#include "rsp/der/der.h"
#include "rsp/msg/tags.h"
#include "test.h"

extern asn_TYPE_descriptor_t *asn_pdu_collection[];

static asn_TYPE_descriptor_t *find_type(const char *name) {
  for (asn_TYPE_descriptor_t **t = asn_pdu_collection; *t; t++)
    if (strcmp((*t)->name, name) == 0) return *t;
  return NULL;
}

static bool is_constructed_type(const asn_TYPE_descriptor_t *td) {
  return td->der_encoder == SEQUENCE_encode_der || td->der_encoder == CHOICE_encode_der ||
         td->der_encoder == SEQUENCE_OF_encode_der || td->der_encoder == SET_OF_encode_der;
}

static void check_one(const char *production, uint32_t tag) {
  asn_TYPE_descriptor_t *td = find_type(production);
  if (!td) {
    rsp_test_fail(__FILE__, __LINE__, "%s: no such production in the reference modules",
                  production);
    return;
  }
  if (td->tags_count < 1) {
    rsp_test_fail(__FILE__, __LINE__, "%s: untagged in the reference modules", production);
    return;
  }
  /* asn1c packs a tag as (number << 2) | class, class 0..3 = universal..private. */
  ber_tlv_tag_t ref = td->tags[0];
  unsigned ref_class = (unsigned)(ref & 3), ref_number = (unsigned)(ref >> 2);
  unsigned our_class = rsp_der_tag_class(tag) >> 6;
  if (ref_class != our_class || ref_number != rsp_der_tag_number(tag))
    rsp_test_fail(__FILE__, __LINE__, "%s: tag 0x%X, reference class %u number %u", production, tag,
                  ref_class, ref_number);
  if (is_constructed_type(td) != rsp_der_tag_constructed(tag))
    rsp_test_fail(__FILE__, __LINE__, "%s: tag 0x%X has the wrong constructed bit", production,
                  tag);
  rsp_test_checks++;
}

static void every_tag_matches_the_reference(void) {
  int n = 0;
#define CHECK_TAG_(name, tag, production) (check_one(production, tag), n++);
  RSP_MSG_TAG_MAP(CHECK_TAG_)
#undef CHECK_TAG_
  printf("%d message tags checked against the reference modules\n", n);
  CHECK(n >= 130);
}

/* A few spot values from sgp32-notes.md, independent of the generator of the table. */
static void spot_values(void) {
  CHECK_EQ(RSP_TAG_EUICC_PACKAGE_REQUEST, 0xBF51);
  CHECK_EQ(RSP_TAG_GET_EIM_PACKAGE_REQUEST, 0xBF4F);
  CHECK_EQ(RSP_TAG_PROVIDE_EIM_PACKAGE_RESULT, 0xBF50);
  CHECK_EQ(RSP_TAG_SGP32_EUICC_MEMORY_RESET_REQUEST, 0xBF64);
  CHECK_EQ(RSP_TAG_SGP32_SET_DEFAULT_DP_ADDRESS_REQUEST, 0xBF65);
  CHECK_EQ(RSP_TAG_EUICC_SIGN_PIR, 0x5F37);
  CHECK_EQ(RSP_TAG_ICCID, 0x5A);
  CHECK_EQ(RSP_TAG_PROFILE_INFO, 0xE3);
  CHECK_EQ(RSP_TAG_REMOTE_PROFILE_PROVISIONING_REQUEST, 0xA2);
}

RSP_TESTS(T(every_tag_matches_the_reference), T(spot_values))
