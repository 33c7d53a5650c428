/* arena: per-request memory. Chunks are allocated on demand and all freed at reset; nothing is
 * freed one by one. bytes_max bounds what one request can make the broker allocate, whatever
 * counts its bytes claim. */
#include <string.h>

#include "sluice/core.h"

#define ARENA_CHUNK_BYTES_MIN (4 * SL_KiB)
#define ARENA_ALIGN 16

struct sl_arena_chunk {
    sl_arena_chunk_t *next;
    size_t used, cap;
    _Alignas(ARENA_ALIGN) uint8_t data[];
};

void sl_arena_init(sl_arena_t *arena, size_t bytes_max)
{
    SL_ASSERT(bytes_max > 0);
    *arena = (sl_arena_t){.head = NULL, .bytes_used = 0, .bytes_max = bytes_max};
}

void sl_arena_reset(sl_arena_t *arena)
{
    sl_arena_chunk_t *c = arena->head;
    while (c != NULL) {
        sl_arena_chunk_t *next = c->next;
        sl_free(c);
        c = next;
    }
    arena->head = NULL;
    arena->bytes_used = 0;
}

void sl_arena_deinit(sl_arena_t *arena)
{
    sl_arena_reset(arena);
}

void *sl_arena_alloc(sl_arena_t *arena, size_t size)
{
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (rounded < size || rounded > arena->bytes_max - arena->bytes_used)
        return NULL;
    sl_arena_chunk_t *c = arena->head;
    if (c == NULL || c->cap - c->used < rounded) {
        size_t cap = SL_MAX(rounded, ARENA_CHUNK_BYTES_MIN);
        if (c != NULL && c->cap * 2 > cap && c->cap * 2 <= arena->bytes_max)
            cap = c->cap * 2; /* grow geometrically so many small allocations stay cheap */
        c = sl_malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->next = arena->head;
        c->used = 0;
        c->cap = cap;
        arena->head = c;
    }
    void *p = c->data + c->used;
    c->used += rounded;
    arena->bytes_used += rounded;
    SL_ASSERT(c->used <= c->cap);
    memset(p, 0, size);
    return p;
}

char *sl_arena_strndup(sl_arena_t *arena, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *copy = sl_arena_alloc(arena, len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}
