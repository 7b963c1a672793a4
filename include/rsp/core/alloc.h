/* openrsp: allocation hooks.
 *
 * Every allocation in lib/ goes through these so the IPA can run on a static
 * arena and tests can make the N-th allocation fail.
 */
#ifndef RSP_CORE_ALLOC_H
#define RSP_CORE_ALLOC_H

#include <stddef.h>

struct rsp_alloc_hooks {
  void *(*malloc_fn)(void *ctx, size_t size);
  void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
  void (*free_fn)(void *ctx, void *ptr);
  void *ctx;
};

/* Installs hooks; NULL restores the C library's allocator. Not thread-safe:
 * call it once at start-up, before any other thread uses the library. */
void rsp_alloc_set_hooks(const struct rsp_alloc_hooks *hooks);

void *rsp_malloc(size_t size);
void *rsp_calloc(size_t n, size_t size);
void *rsp_realloc(void *ptr, size_t size);
void rsp_free(void *ptr);
/* Copies n bytes into a new allocation; NULL on failure (or n == 0 gives a 1-byte block). */
void *rsp_memdup(const void *p, size_t n);
char *rsp_strdup(const char *s);

/* Zeroes memory in a way the compiler cannot remove (for key material). */
void rsp_memzero(void *p, size_t n);

#endif
