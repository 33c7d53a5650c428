/* payload_cache: large request frames are read into buffers that come back here once their frame
 * is done, so the next large frame (the next Produce of a busy producer) reuses pages that are
 * already mapped instead of faulting in fresh zeroed ones. malloc alone does not give that: a
 * frame of a MiB comes from mmap or from the top of the heap, and freeing a few of them returns
 * the memory to the kernel (munmap, or a heap trim past M_TRIM_THRESHOLD), so every frame paid a
 * page fault and a page clear per 4 KiB (docs/performance.md, "Cost per MiB").
 * Bounded: at most SL_NET_PAYLOAD_CACHE_COUNT buffers and SL_NET_PAYLOAD_CACHE_BYTES_MAX bytes are
 * kept, and the server's idle sweep empties the cache when no large frame arrived since the last
 * sweep, so an idle broker holds none of it. */
#include "net_int.h"

/* Buffers are sized up to a step of an eighth of their power of two, so frames of nearly the same
 * size (a producer's batches) fit each other's buffers while wasting at most 12.5 %. */
size_t sl__payload_cache_size_class(size_t len)
{
    size_t pow2 = 4096;
    while (pow2 < len / 2 + 1 && pow2 < SIZE_MAX / 4)
        pow2 *= 2;
    size_t step = SL_MAX(pow2 / 8, (size_t)4096);
    return (len + step - 1) / step * step;
}

uint8_t *sl__payload_cache_take(sl__payload_cache_t *cache, size_t len, size_t *cap)
{
    if (cache == NULL || len < SL_NET_PAYLOAD_CACHED_BYTES_MIN) {
        *cap = len;
        return sl_malloc(len > 0 ? len : 1);
    }
    cache->used_since_sweep = true;
    /* The smallest kept buffer that fits, and only one the frame fills at least half of: a small
     * frame must not pin a large buffer (bytes in flight count frames, not buffers). */
    size_t best = cache->count;
    for (size_t i = 0; i < cache->count; i++)
        if (cache->caps[i] >= len && cache->caps[i] / 2 <= len &&
            (best == cache->count || cache->caps[i] < cache->caps[best]))
            best = i;
    if (best < cache->count) {
        uint8_t *buf = cache->bufs[best];
        *cap = cache->caps[best];
        cache->bytes -= *cap;
        cache->count--;
        cache->bufs[best] = cache->bufs[cache->count];
        cache->caps[best] = cache->caps[cache->count];
        cache->hits++;
        return buf;
    }
    *cap = sl__payload_cache_size_class(len);
    cache->misses++;
    return sl_malloc(*cap);
}

void sl__payload_cache_give(sl__payload_cache_t *cache, uint8_t *buf, size_t cap)
{
    if (buf == NULL)
        return;
    if (cache == NULL || cap < SL_NET_PAYLOAD_CACHED_BYTES_MIN ||
        cache->count == SL_NET_PAYLOAD_CACHE_COUNT ||
        cap > SL_NET_PAYLOAD_CACHE_BYTES_MAX - cache->bytes) {
        sl_free(buf);
        return;
    }
    cache->bufs[cache->count] = buf;
    cache->caps[cache->count] = cap;
    cache->count++;
    cache->bytes += cap;
}

void sl__payload_cache_trim(sl__payload_cache_t *cache)
{
    for (size_t i = 0; i < cache->count; i++)
        sl_free(cache->bufs[i]);
    cache->count = 0;
    cache->bytes = 0;
}

void sl__payload_cache_sweep(sl__payload_cache_t *cache)
{
    if (!cache->used_since_sweep)
        sl__payload_cache_trim(cache);
    cache->used_since_sweep = false;
}
