/* Tag-list selection (SGP.22 ES10c.GetProfilesInfo tagList, SGP.32 IpaEuiccDataRequest tagList):
 * keep only the components whose tag the requester listed. */
#include <string.h>

#include "msg_internal.h"

/* Splits a tagList value (concatenated tags, no lengths) into `tags`. */
static rsp_err_t parse_tag_list(struct rsp_slice list, uint32_t *tags, size_t max, size_t *n) {
  const uint8_t *p = list.p, *end = list.p + list.len;
  *n = 0;
  while (p < end) {
    uint32_t tag = *p++;
    if ((tag & 0x1Fu) == 0x1Fu) { /* multi-byte tag: continuation bytes have bit 8 set */
      size_t k = 0;
      do {
        if (p == end || ++k > 3) return RSP_E_DER_BAD_TAG;
        tag = tag << 8 | *p;
      } while (*p++ & 0x80u);
    }
    if (*n == max) return RSP_E_BUF_CAP;
    tags[(*n)++] = tag;
  }
  return RSP_OK;
}

static void clear_field(const struct rsp_msg_field *f, uint8_t *dst) {
  switch (f->kind) {
  case RSP_MSG_INT:
  case RSP_MSG_ENUM:
    memset(dst, 0, sizeof(struct rsp_msg_int));
    break;
  case RSP_MSG_BOOL:
    memset(dst, 0, sizeof(struct rsp_msg_bool));
    break;
  case RSP_MSG_NULL:
    *(bool *)dst = false;
    break;
  case RSP_MSG_SEQ:
  case RSP_MSG_SEQOF:
  case RSP_MSG_CHOICE:
    *(void **)dst = NULL;
    break;
  default:
    memset(dst, 0, sizeof(struct rsp_slice));
  }
}

rsp_err_t rsp_msg_select_tags(const struct rsp_msg_type *t, void *value, struct rsp_slice list) {
  uint32_t tags[64];
  size_t n;
  if (t->kind != RSP_MSG_SEQ) return RSP_E_INVALID_ARG;
  rsp_err_t rc = parse_tag_list(list, tags, sizeof tags / sizeof tags[0], &n);
  if (rc != RSP_OK) return rc;
  for (uint16_t i = 0; i < t->nfields; i++) {
    const struct rsp_msg_field *f = &t->fields[i];
    bool listed = false;
    for (size_t k = 0; k < n && !listed; k++) listed = rsp__msg_field_accepts(f, tags[k]);
    /* mandatory components stay: the caller's type decides what a response must carry */
    if (!listed && (f->flags & (RSP_MSG_F_OPTIONAL | RSP_MSG_F_DEFAULT)))
      clear_field(f, (uint8_t *)value + f->offset);
  }
  ((struct rsp_msg_seq_head *)value)->ext = NULL;
  return RSP_OK;
}
