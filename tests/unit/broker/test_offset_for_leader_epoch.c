/* Unit tests for OffsetForLeaderEpoch's lookup (sl__epoch_end_offset): Kafka's
 * LeaderEpochFileCache.endOffsetFor over a log's leader-epoch-checkpoint entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/broker_int.h"

/* epochs 1 from 0, 3 from 10, 4 from 25; log end 40 */
static const sl_log_epoch_t epochs[] = {{1, 0}, {3, 10}, {4, 25}};

static void expect(int32_t requested, int32_t epoch, int64_t end_offset)
{
    int32_t got_epoch = 99;
    int64_t got_end = 99;
    sl__epoch_end_offset(epochs, 3, 40, requested, &got_epoch, &got_end);
    assert_int_equal(got_epoch, epoch);
    assert_int_equal(got_end, end_offset);
}

static void test_latest_epoch_ends_at_the_log_end(void **state)
{
    (void)state;
    expect(4, 4, 40);
}

static void test_known_epoch_ends_where_the_next_starts(void **state)
{
    (void)state;
    expect(1, 1, 10);
    expect(3, 3, 25);
}

static void test_missing_epoch_answers_the_largest_below(void **state)
{
    (void)state;
    expect(2, 1, 10); /* epoch 2 never wrote: epoch 1's end, as Kafka answers */
}

static void test_epoch_below_every_entry_keeps_the_requested_epoch(void **state)
{
    (void)state;
    expect(0, 0, 0);
}

static void test_undefined_answers(void **state)
{
    (void)state;
    expect(5, -1, -1);  /* above every epoch */
    expect(-1, -1, -1); /* UNDEFINED_EPOCH asked */
    int32_t e = 0;
    int64_t o = 0;
    sl__epoch_end_offset(NULL, 0, 0, 0, &e, &o); /* an empty log has no epochs */
    assert_int_equal(e, -1);
    assert_int_equal(o, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest_epoch_ends_at_the_log_end),
        cmocka_unit_test(test_known_epoch_ends_where_the_next_starts),
        cmocka_unit_test(test_missing_epoch_answers_the_largest_below),
        cmocka_unit_test(test_epoch_below_every_entry_keeps_the_requested_epoch),
        cmocka_unit_test(test_undefined_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
