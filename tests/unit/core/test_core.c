/* Unit tests for src/core: allocator accounting and failure injection, arena bounds, buffers,
 * CRC-32C vectors, UUID text form, error names and the log rate limiter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/core.h"

static void test_alloc_counts_and_fails(void **state)
{
    (void)state;
    size_t before = sl_alloc_bytes_in_use();
    void *p = sl_malloc(100);
    assert_non_null(p);
    assert_int_equal(sl_alloc_bytes_in_use(), before + 100);
    p = sl_realloc(p, 300);
    assert_non_null(p);
    assert_int_equal(sl_alloc_bytes_in_use(), before + 300);
    sl_free(p);
    assert_int_equal(sl_alloc_bytes_in_use(), before);

    sl_alloc_fail_after(2);
    void *first = sl_malloc(8);
    assert_non_null(first);
    assert_null(sl_malloc(8));
    void *third = sl_malloc(8);
    assert_non_null(third);
    sl_free(first);
    sl_free(third);
    assert_null(sl_calloc(SIZE_MAX / 2, 4));
}

static void test_arena_bounds(void **state)
{
    (void)state;
    sl_arena_t arena;
    sl_arena_init(&arena, 64 * SL_KiB);
    uint8_t *a = sl_arena_alloc(&arena, 10);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 16, 0);
    uint8_t *b = sl_arena_alloc(&arena, 100);
    assert_non_null(b);
    assert_true(b >= a + 16);
    for (int i = 0; i < 100; i++)
        assert_int_equal(b[i], 0);
    assert_null(sl_arena_alloc(&arena, 64 * SL_KiB)); /* over bytes_max */
    assert_null(sl_arena_alloc(&arena, SIZE_MAX));    /* overflow when rounding */
    char *s = sl_arena_strndup(&arena, "topic-abc", 5);
    assert_string_equal(s, "topic");
    size_t in_use = sl_alloc_bytes_in_use();
    assert_true(in_use > 0);
    sl_arena_reset(&arena);
    assert_int_equal(arena.bytes_used, 0);
    assert_true(sl_alloc_bytes_in_use() < in_use);
    assert_non_null(sl_arena_alloc(&arena, 60 * SL_KiB));
    sl_arena_deinit(&arena);
}

static void test_buf_limits(void **state)
{
    (void)state;
    sl_buf_t buf;
    sl_buf_init(&buf, 1000);
    assert_int_equal(sl_buf_append(&buf, "hello", 5), 0);
    assert_int_equal(sl_buf_appendf(&buf, " %d", 42), 0);
    assert_int_equal(buf.len, 8);
    assert_memory_equal(buf.ptr, "hello 42", 8);
    sl_buf_consume(&buf, 6);
    assert_memory_equal(buf.ptr, "42", 2);
    uint8_t big[1200] = {0};
    assert_int_equal(sl_buf_append(&buf, big, sizeof(big)), SL_ELIMIT);
    assert_int_equal(sl_buf_append(&buf, big, 998), 0);
    assert_int_equal(buf.len, 1000);
    assert_int_equal(sl_buf_append(&buf, big, 1), SL_ELIMIT);
    sl_buf_deinit(&buf);
}

static void test_crc32c_vectors(void **state)
{
    (void)state;
    /* RFC 3720 appendix B.4 and the classic check value. */
    assert_int_equal(sl_crc32c(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0};
    assert_int_equal(sl_crc32c(0, zeros, 32), 0x8A9136AAu);
    uint8_t ones[32];
    memset(ones, 0xff, sizeof(ones));
    assert_int_equal(sl_crc32c(0, ones, 32), 0x62A8AB43u);
    /* Incremental equals one shot, at every split point. */
    const char *text = "The quick brown fox jumps over the lazy dog";
    uint32_t whole = sl_crc32c(0, text, strlen(text));
    for (size_t split = 0; split <= strlen(text); split++)
        assert_int_equal(sl_crc32c(sl_crc32c(0, text, split), text + split, strlen(text) - split),
                         whole);
}

/* CRC-32C one bit at a time, straight from the definition (reflected polynomial 0x82F63B78). */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len-- > 0) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

/* The fast path joins three interleaved chains per block (blocks of 8192, 1024 and 128 bytes, three
 * blocks at a time), so every length around those steps, at every alignment, must agree with the
 * definition: a wrong joining constant or an off-by-one in the tier walk shows up here. */
static void test_crc32c_interleaved_matches_bitwise(void **state)
{
    (void)state;
    enum { BUF_BYTES = 3 * 3 * 8192 + 3 * 1024 + 3 * 128 + 64 };
    uint8_t *buf = sl_malloc(BUF_BYTES);
    assert_non_null(buf);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < BUF_BYTES; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    static const size_t steps[] = {3 * 128, 3 * 1024, 3 * 8192, 2 * 3 * 8192,
                                   3 * 8192 + 3 * 1024 + 3 * 128};
    for (size_t align = 0; align < 8; align++) {
        const uint8_t *p = buf + align;
        size_t room = BUF_BYTES - 8;
        for (size_t len = 0; len <= 1300; len++)
            assert_int_equal(sl_crc32c(0, p, len), crc32c_bitwise(0, p, len));
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++)
            for (size_t len = steps[s] - 17; len <= steps[s] + 17 && len <= room; len++)
                assert_int_equal(sl_crc32c(0, p, len), crc32c_bitwise(0, p, len));
        assert_int_equal(sl_crc32c(0, p, room), crc32c_bitwise(0, p, room));
        /* A running CRC continues across calls whatever tier each part used. */
        uint32_t seed = crc32c_bitwise(0, p, 1000);
        assert_int_equal(sl_crc32c(seed, p + 1000, room - 1000), crc32c_bitwise(0, p, room));
    }
    sl_free(buf);
}

static void test_uuid_text(void **state)
{
    (void)state;
    sl_uuid_t u;
    assert_int_equal(sl_uuid_random(&u), 0);
    assert_false(sl_uuid_is_zero(&u));
    char text[23];
    sl_uuid_to_base64(&u, text);
    assert_int_equal(strlen(text), 22);
    sl_uuid_t back;
    assert_int_equal(sl_uuid_from_base64(text, &back), 0);
    assert_memory_equal(u.bytes, back.bytes, 16);
    /* Kafka's documented example form: 22 url-safe characters. */
    sl_uuid_t zero = {{0}};
    sl_uuid_to_base64(&zero, text);
    assert_string_equal(text, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(sl_uuid_from_base64("short", &back), SL_EMALFORMED);
    assert_int_equal(sl_uuid_from_base64("AAAAAAAAAAAAAAAAAAAA*A", &back), SL_EMALFORMED);
    assert_int_equal(sl_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAAB", &back), SL_EMALFORMED);
}

static void test_strerror_names(void **state)
{
    (void)state;
    assert_string_equal(sl_strerror(0), "success");
    assert_string_equal(sl_strerror(SL_EMALFORMED), "malformed input");
    assert_string_equal(sl_strerror(-ENOENT), "No such file or directory");
    assert_string_equal(sl_strerror(-9999), "unknown error");
}

static void test_log_ratelimit(void **state)
{
    (void)state;
    sl_log_ratelimit_t rl = {0};
    uint32_t dropped = 0;
    int passed = 0;
    for (int i = 0; i < 100; i++)
        passed += sl_log_ratelimit_pass(&rl, &dropped) ? 1 : 0;
    assert_int_equal(passed, 5);
    assert_int_equal(rl.suppressed_count, 95);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_counts_and_fails),
        cmocka_unit_test(test_arena_bounds),
        cmocka_unit_test(test_buf_limits),
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_interleaved_matches_bitwise),
        cmocka_unit_test(test_uuid_text),
        cmocka_unit_test(test_strerror_names),
        cmocka_unit_test(test_log_ratelimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
