/* Unit tests for src/cli/batch.c: a built batch passes the broker's own produce checks (CRC,
 * counts) and reads back record by record; the key partitioner matches Kafka's murmur2 vectors
 * (from Kafka's UtilsTest) made positive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_int.h"
#include "cli_tests.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

typedef struct {
    int count;
    char seen[4][16];
    bool null_key[4];
} collected_t;

static int collect(const sl_record_t *rec, void *data)
{
    collected_t *c = data;
    assert_true(c->count < 4);
    assert_int_equal(rec->offset, c->count);
    snprintf(c->seen[c->count], sizeof c->seen[0], "%.*s=%.*s", (int)rec->key.len,
             rec->key.ptr ? (const char *)rec->key.ptr : "", (int)rec->value.len,
             (const char *)rec->value.ptr);
    c->null_key[c->count] = rec->key.ptr == NULL;
    c->count++;
    return 0;
}

static void test_batch_round_trip(void **state)
{
    (void)state;
    sl_cli_batch_t b;
    sl__cli_batch_init(&b, 0);
    assert_int_equal(sl__cli_batch_append(&b, sl_slice_from_str("k1"), sl_slice_from_str("v1")), 0);
    assert_int_equal(sl__cli_batch_append(&b, SL_SLICE_NULL, sl_slice_from_str("")), 0);
    assert_int_equal(sl__cli_batch_append(&b, sl_slice_from_str(""), sl_slice_from_str("v3")), 0);
    sl__cli_batch_finish(&b);
    sl_record_batch_t hdr;
    assert_int_equal(sl_record_batch_validate_produce(b.buf.ptr, b.buf.len, &hdr), SL_BATCH_OK);
    assert_int_equal(hdr.record_count, 3);
    assert_int_equal(hdr.last_offset_delta, 2);
    assert_int_equal(hdr.producer_id, -1);
    collected_t got = {0};
    sl_buf_t scratch;
    sl_records_scratch_init(&scratch);
    assert_int_equal(sl_records_iterate(b.buf.ptr, b.buf.len, &scratch, collect, &got), 0);
    assert_int_equal(got.count, 3);
    assert_string_equal(got.seen[0], "k1=v1");
    assert_string_equal(got.seen[1], "=");
    assert_true(got.null_key[1]);
    assert_string_equal(got.seen[2], "=v3");
    assert_false(got.null_key[2]);
    sl_buf_deinit(&scratch);
    sl__cli_batch_deinit(&b);
}

static void test_partition_for_key(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int32_t murmur2;
    } vectors[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        int32_t positive = (int32_t)((uint32_t)vectors[i].murmur2 & 0x7fffffffu);
        sl_slice_t key = sl_slice_from_str(vectors[i].key);
        assert_int_equal(sl__cli_partition_for_key(key, INT32_MAX), positive % INT32_MAX);
        assert_int_equal(sl__cli_partition_for_key(key, 6), positive % 6);
    }
}

int run_batch_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_round_trip),
        cmocka_unit_test(test_partition_for_key),
    };
    return cmocka_run_group_tests_name("cli_batch", tests, NULL, NULL);
}
