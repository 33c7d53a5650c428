/* Unit tests for src/net/frame.c: cutting a byte stream into frames at every split point, size
 * limits checked before allocation, negative and zero sizes, and direct reads into a payload. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/net_int.h"

static size_t put_frame(uint8_t *out, const char *payload)
{
    size_t len = strlen(payload);
    out[0] = 0;
    out[1] = 0;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    memcpy(out + 4, payload, len);
    return 4 + len;
}

/* Feeds stream in pieces of chunk bytes and collects the frames it yields. */
static int split_all(const uint8_t *stream, size_t stream_len, size_t chunk, char frames[][32])
{
    sl__splitter_t s;
    sl__splitter_init(&s, 1024, NULL);
    int n = 0;
    for (size_t off = 0; off < stream_len; off += chunk) {
        const uint8_t *data = stream + off;
        size_t len = SL_MIN(chunk, stream_len - off);
        for (;;) {
            int rc = sl__splitter_feed(&s, &data, &len);
            assert_true(rc >= 0);
            if (rc == SL__SPLIT_NEED_MORE)
                break;
            size_t flen, cap;
            uint8_t *p = sl__splitter_take(&s, &flen, &cap);
            memcpy(frames[n], p, flen);
            frames[n][flen] = '\0';
            n++;
            sl_free(p);
        }
        assert_int_equal(len, 0);
    }
    sl__splitter_deinit(&s);
    return n;
}

static void test_every_chunk_size(void **state)
{
    (void)state;
    uint8_t stream[256];
    size_t len = put_frame(stream, "first");
    len += put_frame(stream + len, "");
    len += put_frame(stream + len, "the third frame");
    for (size_t chunk = 1; chunk <= len; chunk++) {
        char frames[8][32];
        assert_int_equal(split_all(stream, len, chunk, frames), 3);
        assert_string_equal(frames[0], "first");
        assert_string_equal(frames[1], "");
        assert_string_equal(frames[2], "the third frame");
    }
}

static void test_size_over_limit_allocates_nothing(void **state)
{
    (void)state;
    sl__splitter_t s;
    sl__splitter_init(&s, 100, NULL);
    uint8_t huge[4] = {0x7f, 0xff, 0xff, 0xff};
    const uint8_t *data = huge;
    size_t len = 4;
    size_t before = sl_alloc_bytes_in_use();
    assert_int_equal(sl__splitter_feed(&s, &data, &len), SL_ELIMIT);
    assert_int_equal(sl_alloc_bytes_in_use(), before);
    sl__splitter_deinit(&s);

    sl__splitter_init(&s, 100, NULL);
    uint8_t negative[4] = {0xff, 0xff, 0xff, 0xfe};
    data = negative;
    len = 4;
    assert_int_equal(sl__splitter_feed(&s, &data, &len), SL_EMALFORMED);
    sl__splitter_deinit(&s);

    sl__splitter_init(&s, 100, NULL);
    uint8_t exact[4] = {0, 0, 0, 100};
    data = exact;
    len = 4;
    assert_int_equal(sl__splitter_feed(&s, &data, &len), SL__SPLIT_NEED_MORE);
    sl__splitter_deinit(&s);
}

static void test_direct_read_lands_in_payload(void **state)
{
    (void)state;
    sl__splitter_t s;
    sl__splitter_init(&s, 1 << 20, NULL);
    uint8_t prefix[6] = {0, 0, 0, 10, 'a', 'b'};
    const uint8_t *data = prefix;
    size_t len = sizeof(prefix);
    assert_int_equal(sl__splitter_feed(&s, &data, &len), SL__SPLIT_NEED_MORE);
    size_t room = 0;
    uint8_t *direct = sl__splitter_direct(&s, &room);
    assert_non_null(direct);
    assert_int_equal(room, 8);
    memcpy(direct, "cdefghij", 8); /* what a read(2) into the payload would do */
    data = direct;
    len = 8;
    assert_int_equal(sl__splitter_feed(&s, &data, &len), SL__SPLIT_FRAME);
    size_t flen, cap;
    uint8_t *p = sl__splitter_take(&s, &flen, &cap);
    assert_int_equal(flen, 10);
    assert_memory_equal(p, "abcdefghij", 10);
    sl_free(p);
    assert_null(sl__splitter_direct(&s, &room));
    sl__splitter_deinit(&s);
}

static void test_alloc_failure_is_reported(void **state)
{
    (void)state;
    sl__splitter_t s;
    sl__splitter_init(&s, 100, NULL);
    uint8_t hdr[4] = {0, 0, 0, 10};
    const uint8_t *data = hdr;
    size_t len = 4;
    sl_alloc_fail_after(1);
    assert_int_equal(sl__splitter_feed(&s, &data, &len), -ENOMEM);
    sl_alloc_fail_after(0);
    sl__splitter_deinit(&s);
}

/* Feeds one frame of len bytes (all bytes = fill) and returns its payload and buffer size. */
static uint8_t *split_one(sl__splitter_t *s, size_t len, uint8_t fill, size_t *cap)
{
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    const uint8_t *data = hdr;
    size_t n = 4;
    assert_int_equal(sl__splitter_feed(s, &data, &n),
                     len == 0 ? SL__SPLIT_FRAME : SL__SPLIT_NEED_MORE);
    size_t room = 0;
    uint8_t *direct = sl__splitter_direct(s, &room);
    assert_non_null(direct);
    assert_int_equal(room, len);
    memset(direct, fill, len); /* what a read(2) into the payload would do */
    data = direct;
    n = len;
    assert_int_equal(sl__splitter_feed(s, &data, &n), SL__SPLIT_FRAME);
    size_t flen;
    uint8_t *p = sl__splitter_take(s, &flen, cap);
    assert_int_equal(flen, len);
    assert_true(*cap >= len);
    return p;
}

/* Large frames reuse the buffers of earlier ones (no fresh pages per Produce); the cache keeps at
 * most its count and bytes, ignores small buffers and empties on an idle sweep. */
static void test_payload_cache_reuses_large_buffers(void **state)
{
    (void)state;
    sl__payload_cache_t cache = {0};
    sl__splitter_t s;
    sl__splitter_init(&s, 64 * SL_MiB, &cache);
    size_t cap;
    uint8_t *first = split_one(&s, 1000000, 'a', &cap);
    assert_int_equal(cap, sl__payload_cache_size_class(1000000));
    assert_true(cap - 1000000 <= 1000000 / 8);
    sl__payload_cache_give(&cache, first, cap);
    assert_int_equal(cache.count, 1);
    /* A slightly larger frame fits the same size class: the same buffer, refilled. */
    size_t cap2;
    uint8_t *second = split_one(&s, 1000100, 'b', &cap2);
    assert_ptr_equal(second, first);
    assert_int_equal(cap2, cap);
    assert_int_equal(cache.count, 0);
    assert_int_equal(cache.hits, 1);
    for (size_t i = 0; i < 1000100; i += 4099)
        assert_int_equal(second[i], 'b');
    sl__payload_cache_give(&cache, second, cap2);
    /* A small frame is a plain allocation and is not kept. */
    size_t small_cap;
    uint8_t *small = split_one(&s, 100, 'c', &small_cap);
    sl__payload_cache_give(&cache, small, small_cap);
    assert_int_equal(cache.count, 1);
    /* Bounded by count and by bytes. */
    for (size_t i = 0; i < SL_NET_PAYLOAD_CACHE_COUNT + 2; i++)
        sl__payload_cache_give(&cache, sl_malloc(128 * 1024), 128 * 1024);
    assert_int_equal(cache.count, SL_NET_PAYLOAD_CACHE_COUNT);
    sl__payload_cache_trim(&cache);
    sl__payload_cache_give(&cache, sl_malloc(20 * SL_MiB), 20 * SL_MiB);
    sl__payload_cache_give(&cache, sl_malloc(20 * SL_MiB), 20 * SL_MiB);
    assert_int_equal(cache.count, 1);
    assert_true(cache.bytes <= SL_NET_PAYLOAD_CACHE_BYTES_MAX);
    /* A frame filling less than half of a kept buffer gets its own. */
    size_t big_cap;
    uint8_t *big = split_one(&s, 9 * SL_MiB, 'd', &big_cap);
    assert_int_equal(cache.count, 1);
    assert_int_equal(big_cap, sl__payload_cache_size_class(9 * SL_MiB));
    sl_free(big);
    big = split_one(&s, 11 * SL_MiB, 'd', &big_cap);
    assert_int_equal(cache.count, 0);
    assert_int_equal(big_cap, 20 * SL_MiB);
    sl__payload_cache_give(&cache, big, big_cap);
    /* A sweep after use keeps the buffers; the next one, with nothing taken, frees them. */
    sl__payload_cache_sweep(&cache);
    assert_int_equal(cache.count, 1);
    sl__payload_cache_sweep(&cache);
    assert_int_equal(cache.count, 0);
    assert_int_equal(cache.bytes, 0);
    /* A frame cut short by deinit gives its buffer back too. */
    uint8_t hdr[4] = {0, 0x10, 0, 0};
    const uint8_t *data = hdr;
    size_t n = 4;
    assert_int_equal(sl__splitter_feed(&s, &data, &n), SL__SPLIT_NEED_MORE);
    sl__splitter_deinit(&s);
    assert_int_equal(cache.count, 1);
    sl__payload_cache_trim(&cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_chunk_size),
        cmocka_unit_test(test_payload_cache_reuses_large_buffers),
        cmocka_unit_test(test_size_over_limit_allocates_nothing),
        cmocka_unit_test(test_direct_read_lands_in_payload),
        cmocka_unit_test(test_alloc_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
