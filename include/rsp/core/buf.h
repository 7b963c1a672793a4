/* openrsp: growable byte buffers with a hard cap.
 *
 * `size` is the allocated capacity, `len` the content, `cap` the hard limit the
 * buffer may never exceed (max ESipa body, max BPP segment ...). Going past the
 * cap is RSP_E_BUF_CAP, a clear error rather than unbounded growth.
 */
#ifndef RSP_CORE_BUF_H
#define RSP_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "rsp/core/error.h"

struct rsp_buf {
  uint8_t *data;
  size_t len;
  size_t size;
  size_t cap;
};

/* A read-only view of bytes owned elsewhere. */
struct rsp_slice {
  const uint8_t *p;
  size_t len;
};

/* Cannot fail: no allocation happens until the first append. */
void rsp_buf_init(struct rsp_buf *b, size_t cap);
/* NULL-safe and idempotent; leaves the buffer empty and re-usable with the same cap. */
void rsp_buf_free(struct rsp_buf *b);
/* Empties the content, keeps the allocation. */
void rsp_buf_reset(struct rsp_buf *b);
/* Makes room for `extra` more bytes. */
rsp_err_t rsp_buf_reserve(struct rsp_buf *b, size_t extra);
rsp_err_t rsp_buf_append(struct rsp_buf *b, const void *p, size_t n);
rsp_err_t rsp_buf_append_byte(struct rsp_buf *b, uint8_t c);
/* Inserts n bytes at offset `at` (<= len), shifting the tail. */
rsp_err_t rsp_buf_insert(struct rsp_buf *b, size_t at, const void *p, size_t n);
/* Hands the allocation to the caller (rsp_free it); the buffer becomes empty. */
uint8_t *rsp_buf_take(struct rsp_buf *b, size_t *len);

#endif
