#include "rsp/core/buf.h"

#include <string.h>

#include "rsp/core/alloc.h"

void rsp_buf_init(struct rsp_buf *b, size_t cap) {
  b->data = NULL;
  b->len = 0;
  b->size = 0;
  b->cap = cap;
}

void rsp_buf_free(struct rsp_buf *b) {
  if (!b) return;
  rsp_free(b->data);
  b->data = NULL;
  b->len = 0;
  b->size = 0;
}

void rsp_buf_reset(struct rsp_buf *b) { b->len = 0; }

rsp_err_t rsp_buf_reserve(struct rsp_buf *b, size_t extra) {
  if (extra > b->cap || b->len > b->cap - extra) return RSP_E_BUF_CAP;
  size_t need = b->len + extra;
  if (need <= b->size) return RSP_OK;
  size_t size = b->size ? b->size : 64;
  while (size < need) size = size > b->cap / 2 ? b->cap : size * 2;
  if (size < need) size = need;
  uint8_t *d = rsp_realloc(b->data, size);
  if (!d) return RSP_E_NOMEM;
  b->data = d;
  b->size = size;
  return RSP_OK;
}

rsp_err_t rsp_buf_append(struct rsp_buf *b, const void *p, size_t n) {
  rsp_err_t rc = rsp_buf_reserve(b, n);
  if (rc != RSP_OK) return rc;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return RSP_OK;
}

rsp_err_t rsp_buf_append_byte(struct rsp_buf *b, uint8_t c) { return rsp_buf_append(b, &c, 1); }

rsp_err_t rsp_buf_insert(struct rsp_buf *b, size_t at, const void *p, size_t n) {
  if (at > b->len) return RSP_E_INVALID_ARG;
  rsp_err_t rc = rsp_buf_reserve(b, n);
  if (rc != RSP_OK) return rc;
  memmove(b->data + at + n, b->data + at, b->len - at);
  if (n) memcpy(b->data + at, p, n);
  b->len += n;
  return RSP_OK;
}

uint8_t *rsp_buf_take(struct rsp_buf *b, size_t *len) {
  uint8_t *d = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = 0;
  b->size = 0;
  return d;
}
