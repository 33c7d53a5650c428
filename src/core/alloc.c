/* alloc: the one place that calls malloc and free. It counts bytes in use (a small header in front
 * of each block records its size) and can fail the Nth allocation so tests prove that every
 * caller survives ENOMEM. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/core.h"

/* Keeps the user pointer 16-byte aligned, like malloc's own. */
typedef struct {
    size_t size;
    size_t pad;
} alloc_header_t;
_Static_assert(sizeof(alloc_header_t) == 16, "header keeps 16-byte alignment");

/* Atomic: the log cleaner allocates on its own threads (relaxed: only a statistic). */
static _Atomic size_t bytes_in_use;
static uint64_t fail_countdown;

static bool should_fail(void)
{
    if (fail_countdown == 0)
        return false;
    fail_countdown--;
    return fail_countdown == 0;
}

void *sl_malloc(size_t size)
{
    if (should_fail() || size > SIZE_MAX - sizeof(alloc_header_t))
        return NULL;
    alloc_header_t *h = malloc(sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    atomic_fetch_add_explicit(&bytes_in_use, size, memory_order_relaxed);
    return h + 1;
}

void *sl_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = sl_malloc(count * size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

void *sl_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return sl_malloc(size);
    if (should_fail() || size > SIZE_MAX - sizeof(alloc_header_t))
        return NULL;
    alloc_header_t *old = (alloc_header_t *)ptr - 1;
    size_t old_size = old->size;
    alloc_header_t *h = realloc(old, sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    atomic_fetch_add_explicit(&bytes_in_use, size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&bytes_in_use, old_size, memory_order_relaxed);
    h->size = size;
    return h + 1;
}

void sl_free(void *ptr)
{
    if (ptr == NULL)
        return;
    alloc_header_t *h = (alloc_header_t *)ptr - 1;
    atomic_fetch_sub_explicit(&bytes_in_use, h->size, memory_order_relaxed);
    free(h);
}

char *sl_strdup(const char *s)
{
    size_t len = strlen(s);
    char *copy = sl_malloc(len + 1);
    if (copy != NULL)
        memcpy(copy, s, len + 1);
    return copy;
}

size_t sl_alloc_bytes_in_use(void)
{
    return atomic_load_explicit(&bytes_in_use, memory_order_relaxed);
}

void sl_alloc_fail_after(uint64_t n)
{
    fail_countdown = n;
}
