/* Generic JSON rendering of decoded messages (rsp_msg_to_json), on jansson. */
#include <jansson.h>
#include <string.h>

#include "msg_internal.h"

static json_t *constructed_json(const struct rsp_msg_type *t, const void *obj);

static json_t *hex_json(struct rsp_slice s) {
  static const char digits[] = "0123456789ABCDEF";
  char *text = rsp_malloc(s.len * 2 + 1);
  if (!text) return NULL;
  for (size_t i = 0; i < s.len; i++) {
    text[2 * i] = digits[s.p[i] >> 4];
    text[2 * i + 1] = digits[s.p[i] & 15];
  }
  text[s.len * 2] = '\0';
  json_t *j = json_string(text);
  rsp_free(text);
  return j;
}

static json_t *oid_json(struct rsp_slice s) {
  struct rsp_der_tlv tlv = {RSP_DER_OID, s.p, s.len, s.p, s.len};
  char dotted[256];
  if (rsp_der_get_oid(&tlv, dotted, sizeof dotted) != RSP_OK) return hex_json(s);
  return json_string(dotted);
}

static json_t *leaf_json(const struct rsp_msg_field *f, const void *src, bool item) {
  bool opt = !item && (f->flags & (RSP_MSG_F_OPTIONAL | RSP_MSG_F_DEFAULT));
  const struct rsp_slice *s = src;
  switch (f->kind) {
  case RSP_MSG_INT:
  case RSP_MSG_ENUM:
    return json_integer(opt ? ((const struct rsp_msg_int *)src)->v : *(const int64_t *)src);
  case RSP_MSG_BOOL:
    return json_boolean(opt ? ((const struct rsp_msg_bool *)src)->v : *(const bool *)src);
  case RSP_MSG_NULL:
    return json_null();
  case RSP_MSG_UTF8:
  case RSP_MSG_STRING: {
    json_t *j = json_stringn((const char *)s->p, s->len);
    return j ? j : hex_json(*s); /* not valid UTF-8 (an IA5String with 8-bit bytes) */
  }
  case RSP_MSG_OID:
    return oid_json(*s);
  default:
    return hex_json(*s);
  }
}

static json_t *field_json(const struct rsp_msg_field *f, const void *src, bool item) {
  if (f->kind == RSP_MSG_SEQ || f->kind == RSP_MSG_SEQOF || f->kind == RSP_MSG_CHOICE)
    return constructed_json(f->type, item ? src : *(const void *const *)src);
  return leaf_json(f, src, item);
}

static json_t *constructed_json(const struct rsp_msg_type *t, const void *obj) {
  const uint8_t *o = obj;
  json_t *j;
  if (t->kind == RSP_MSG_CHOICE) {
    const struct rsp_msg_choice *ch = obj;
    j = json_object();
    if (ch->which == RSP_MSG_ALT_UNKNOWN)
      json_object_set_new(j, "unknownAlternative", hex_json(ch->raw));
    else if (ch->which >= 1 && ch->which <= t->nfields) {
      const struct rsp_msg_field *f = &t->fields[ch->which - 1];
      json_object_set_new(j, f->name, field_json(f, o + f->offset, false));
    }
    return j;
  }
  if (t->kind == RSP_MSG_SEQOF) {
    const struct rsp_msg_list *l = obj;
    size_t isz = rsp_msg_item_size(&t->fields[0]);
    j = json_array();
    for (size_t i = 0; i < l->n; i++)
      json_array_append_new(j, field_json(&t->fields[0], (const uint8_t *)l->v + i * isz, true));
    return j;
  }
  j = json_object();
  for (uint16_t i = 0; i < t->nfields; i++) {
    const struct rsp_msg_field *f = &t->fields[i];
    if (rsp__msg_present(f, o + f->offset))
      json_object_set_new(j, f->name, field_json(f, o + f->offset, false));
  }
  return j;
}

rsp_err_t rsp_msg_to_json(const struct rsp_msg_type *t, const void *value, bool pretty,
                          struct rsp_buf *out) {
  json_t *j = constructed_json(t, value);
  if (!j) return RSP_E_NOMEM;
  char *text = json_dumps(j, JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
  json_decref(j);
  if (!text) return RSP_E_NOMEM;
  rsp_err_t rc = rsp_buf_append(out, text, strlen(text));
  free(text);
  return rc;
}
