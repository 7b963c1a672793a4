#include "rsp/core/error.h"

#include <stddef.h>

#define NAME_(name, msg) "RSP_E_" #name,
#define MSG_(name, msg) msg,
static const char *const names[] = {RSP_ERRNO_MAP(NAME_)};
static const char *const msgs[] = {RSP_ERRNO_MAP(MSG_)};
#undef NAME_
#undef MSG_

static int index_of(rsp_err_t err) {
  int i = (int)err - (int)RSP_E__BASE - 1;
  if (i < 0 || i >= (int)(sizeof(names) / sizeof(names[0]))) return -1;
  return i;
}

const char *rsp_err_name(rsp_err_t err) {
  if (err == RSP_OK) return "RSP_OK";
  int i = index_of(err);
  return i < 0 ? "RSP_E_UNKNOWN" : names[i];
}

const char *rsp_strerror(rsp_err_t err) {
  if (err == RSP_OK) return "success";
  int i = index_of(err);
  return i < 0 ? "unknown error" : msgs[i];
}
