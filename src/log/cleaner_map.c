/* cleaner_map: the log cleaner's offset map (Kafka's SkimpyOffsetMap): key hash -> latest offset,
 * in a fixed table sized from log.cleaner.dedupe.buffer.size. A key is never stored, only a 128-bit
 * hash of it (two 64-bit hashes with different seeds), so memory is 24 bytes per key whatever the
 * key length; two keys with the same 128-bit hash would be treated as one (as in Kafka, where the
 * hash is MD5).
 * Invariants: count <= max_count < cap (open addressing with linear probing always finds an empty
 * slot); an empty slot has offset -1; offsets put are non-decreasing (the map is filled in log
 * order), so a put always replaces the older offset of its key. */
#include <string.h>

#include "cleaner_int.h"

#define MAP_LOAD_FACTOR 0.9 /* Kafka's log.cleaner.io.buffer.load.factor */
#define MAP_SEED_1 0x243f6a8885a308d3ULL
#define MAP_SEED_2 0x13198a2e03707344ULL

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash64(const uint8_t *p, size_t len, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        h = (h ^ mix64(w + seed)) * 0x9e3779b97f4a7c15ULL;
        h = (h << 27) | (h >> 37);
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    return mix64(h ^ mix64(tail ^ seed ^ (uint64_t)len));
}

int sl__offset_map_init(sl_offset_map_t *map, size_t bytes)
{
    size_t cap = SL_MAX(bytes / sizeof(sl_offset_map_slot_t), (size_t)16);
    *map = (sl_offset_map_t){.cap = cap, .latest_offset = -1};
    map->max_count = (size_t)((double)cap * MAP_LOAD_FACTOR);
    if (map->max_count >= cap)
        map->max_count = cap - 1;
    map->slots = sl_malloc(cap * sizeof *map->slots);
    if (map->slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < cap; i++)
        map->slots[i].offset = -1;
    return 0;
}

void sl__offset_map_deinit(sl_offset_map_t *map)
{
    sl_free(map->slots);
    map->slots = NULL;
}

/* The slot holding the key's hash, or the empty slot where it would go. */
static size_t map_find(const sl_offset_map_t *map, uint64_t h1, uint64_t h2)
{
    size_t i = (size_t)(h1 % map->cap);
    for (;;) {
        const sl_offset_map_slot_t *s = &map->slots[i];
        if (s->offset < 0 || (s->h1 == h1 && s->h2 == h2))
            return i;
        i = i + 1 == map->cap ? 0 : i + 1;
    }
}

bool sl__offset_map_put(sl_offset_map_t *map, sl_slice_t key, int64_t offset)
{
    uint64_t h1 = hash64(key.ptr, key.len, MAP_SEED_1);
    uint64_t h2 = hash64(key.ptr, key.len, MAP_SEED_2);
    sl_offset_map_slot_t *s = &map->slots[map_find(map, h1, h2)];
    if (s->offset < 0) {
        if (map->count >= map->max_count)
            return false;
        map->count++;
        s->h1 = h1;
        s->h2 = h2;
    }
    SL_ASSERT(offset >= s->offset);
    s->offset = offset;
    return true;
}

int64_t sl__offset_map_get(const sl_offset_map_t *map, sl_slice_t key)
{
    uint64_t h1 = hash64(key.ptr, key.len, MAP_SEED_1);
    uint64_t h2 = hash64(key.ptr, key.len, MAP_SEED_2);
    return map->slots[map_find(map, h1, h2)].offset;
}
