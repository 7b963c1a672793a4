/* lib/msg internals shared by the codec files. */
#ifndef RSP_MSG_MSG_INTERNAL_H
#define RSP_MSG_MSG_INTERNAL_H

#include "rsp/core/alloc.h"
#include "rsp/msg/msg.h"

/* The common layout of every generated SEQUENCE OF struct and every CHOICE struct. */
struct rsp_msg_list {
  struct rsp_slice raw;
  void *v;
  size_t n;
};

/* The common head of every generated SEQUENCE struct. */
struct rsp_msg_seq_head {
  struct rsp_slice raw;
  struct rsp_msg_ext *ext;
};

struct rsp_msg_choice {
  struct rsp_slice raw;
  int which;
};

bool rsp__msg_present(const struct rsp_msg_field *f, const void *src);
bool rsp__msg_field_accepts(const struct rsp_msg_field *f, uint32_t tag);

#endif
