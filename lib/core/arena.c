#include "rsp/core/arena.h"

#include <stdint.h>
#include <string.h>

#include "rsp/core/alloc.h"

struct rsp_arena_chunk {
  struct rsp_arena_chunk *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  /* data follows, aligned to 16 */
};

#define HDR ((sizeof(struct rsp_arena_chunk) + 15u) & ~(size_t)15u)

void rsp_arena_init(struct rsp_arena *a, size_t cap) {
  a->head = NULL;
  a->used = 0;
  a->cap = cap;
}

void *rsp_arena_alloc(struct rsp_arena *a, size_t n) {
  size_t need = (n + 15u) & ~(size_t)15u;
  if (need < n || need > a->cap || a->used > a->cap - need) return NULL;
  struct rsp_arena_chunk *c = a->head;
  if (!c || c->size - c->used < need) {
    size_t size = need > RSP_ARENA_CHUNK ? need : RSP_ARENA_CHUNK;
    c = rsp_malloc(HDR + size);
    if (!c) return NULL;
    c->next = a->head;
    c->size = size;
    c->used = 0;
    a->head = c;
  }
  uint8_t *p = (uint8_t *)c + HDR + c->used;
  c->used += need;
  a->used += need;
  memset(p, 0, n);
  return p;
}

void rsp_arena_free(struct rsp_arena *a) {
  if (!a) return;
  struct rsp_arena_chunk *c = a->head;
  while (c) {
    struct rsp_arena_chunk *next = c->next;
    rsp_free(c);
    c = next;
  }
  a->head = NULL;
  a->used = 0;
}
