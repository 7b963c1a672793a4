/* openrsp: a bump allocator for decoded messages.
 *
 * Decoders allocate every struct of one message from an arena and the caller releases the whole
 * message at once with rsp_arena_free. Memory comes from rsp_malloc in chunks; the arena has a
 * hard cap so that a hostile message cannot make a decoder allocate without bound. */
#ifndef RSP_CORE_ARENA_H
#define RSP_CORE_ARENA_H

#include <stddef.h>

#define RSP_ARENA_CHUNK 4096u

struct rsp_arena_chunk;

struct rsp_arena {
  struct rsp_arena_chunk *head;
  size_t used; /* bytes handed out, for the cap */
  size_t cap;
};

/* Cannot fail: nothing is allocated until the first rsp_arena_alloc. */
void rsp_arena_init(struct rsp_arena *a, size_t cap);
/* Zeroed, 16-byte aligned memory; NULL when out of memory or over the cap. */
void *rsp_arena_alloc(struct rsp_arena *a, size_t n);
/* Releases everything; NULL-safe, idempotent, the arena stays usable with the same cap. */
void rsp_arena_free(struct rsp_arena *a);

#endif
