#include "rsp/core/alloc.h"

#include <stdlib.h>
#include <string.h>

static void *std_malloc(void *ctx, size_t size) {
  (void)ctx;
  return malloc(size);
}
static void *std_realloc(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  return realloc(ptr, size);
}
static void std_free(void *ctx, void *ptr) {
  (void)ctx;
  free(ptr);
}

static const struct rsp_alloc_hooks std_hooks = {std_malloc, std_realloc, std_free, NULL};
static struct rsp_alloc_hooks hooks = {std_malloc, std_realloc, std_free, NULL};

void rsp_alloc_set_hooks(const struct rsp_alloc_hooks *h) { hooks = h ? *h : std_hooks; }

void *rsp_malloc(size_t size) { return hooks.malloc_fn(hooks.ctx, size ? size : 1); }

void *rsp_calloc(size_t n, size_t size) {
  if (size && n > (size_t)-1 / size) return NULL;
  void *p = rsp_malloc(n * size);
  if (p && n * size > 0) memset(p, 0, n * size);
  return p;
}

void *rsp_realloc(void *ptr, size_t size) {
  return hooks.realloc_fn(hooks.ctx, ptr, size ? size : 1);
}

void rsp_free(void *ptr) {
  if (ptr) hooks.free_fn(hooks.ctx, ptr);
}

void *rsp_memdup(const void *p, size_t n) {
  void *d = rsp_malloc(n);
  if (d && n) memcpy(d, p, n);
  return d;
}

char *rsp_strdup(const char *s) { return s ? rsp_memdup(s, strlen(s) + 1) : NULL; }

void rsp_memzero(void *p, size_t n) {
  volatile unsigned char *v = p;
  while (n--) *v++ = 0;
}
