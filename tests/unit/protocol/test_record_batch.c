/* Unit tests for src/protocol/record_batch.c: header parsing, the produce checks and their
 * verdicts (each one Kafka error), and in-place offset patching that leaves the CRC valid. */
#include "batch_builder.h"
#include "sluice/record_batch.h"
#include "test_support.h"

static void test_parse_and_validate_good_batch(void **state)
{
    (void)state;
    size_t len;
    uint8_t *batch = test_batch_build(5, 1700000000000, &len);
    sl_record_batch_t b;
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_OK);
    assert_int_equal(b.record_count, 5);
    assert_int_equal(b.last_offset_delta, 4);
    assert_int_equal(b.max_timestamp, 1700000000004);
    assert_int_equal(sl_record_batch_size(&b), len);
    /* Every truncation is incomplete or corrupt, never accepted. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = test_exact_copy(batch, cut);
        assert_int_not_equal(sl_record_batch_validate_produce(copy, cut, &b), SL_BATCH_OK);
        test_exact_free(copy);
    }
    sl_free(batch);
}

static void test_verdicts(void **state)
{
    (void)state;
    size_t len;
    uint8_t *batch = test_batch_build(3, 0, &len);
    sl_record_batch_t b;

    batch[len - 1] ^= 0x01; /* a flipped bit in the records */
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_CORRUPT);
    batch[len - 1] ^= 0x01;

    batch[11] = (uint8_t)(batch[11] + 7); /* a length claiming more bytes than sent */
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_INVALID);
    batch[11] = (uint8_t)(batch[11] - 14); /* claiming fewer: the CRC no longer matches */
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_CORRUPT);
    batch[11] = (uint8_t)(batch[11] + 7);
    assert_int_equal(sl_record_batch_validate_produce(batch, 0, &b), SL_BATCH_NOT_ONE_BATCH);

    batch[60] = 9; /* record count 9 vs lastOffsetDelta 2 */
    test_batch_fix_crc(batch, len);
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_INVALID);
    batch[60] = 3;

    batch[16] = 1; /* magic 1 */
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_OLD_MAGIC);
    batch[16] = 2;

    batch[22] |= SL_RECORD_BATCH_CONTROL; /* clients may not send control batches */
    test_batch_fix_crc(batch, len);
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_INVALID);
    batch[22] &= (uint8_t)~SL_RECORD_BATCH_CONTROL;
    test_batch_fix_crc(batch, len);
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_OK);

    uint8_t *two = sl_malloc(2 * len); /* Produce v3+ takes exactly one batch */
    memcpy(two, batch, len);
    memcpy(two + len, batch, len);
    assert_int_equal(sl_record_batch_validate_produce(two, 2 * len, &b), SL_BATCH_NOT_ONE_BATCH);
    sl_free(two);
    sl_free(batch);
}

static void test_patch_keeps_crc(void **state)
{
    (void)state;
    size_t len;
    uint8_t *batch = test_batch_build(2, 0, &len);
    sl_record_batch_patch_offsets(batch, 123456789012, 7);
    sl_record_batch_t b;
    assert_int_equal(sl_record_batch_validate_produce(batch, len, &b), SL_BATCH_OK);
    assert_int_equal(b.base_offset, 123456789012);
    assert_int_equal(b.partition_leader_epoch, 7);
    sl_free(batch);
}

int test_record_batch_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_validate_good_batch),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_patch_keeps_crc),
    };
    return cmocka_run_group_tests_name("record_batch", tests, NULL, NULL);
}
