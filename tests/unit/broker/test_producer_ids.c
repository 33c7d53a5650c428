/* Unit tests for producer id blocks from the controller (quorum mode, producer_ids.c): no id
 * before the first block, the next block asked for at 90% of the current one and switched to
 * without a gap in service, refused answers asked again, and blocks that would overlap refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/broker_int.h"

static const sl_config_t cfg; /* quorum mode reads nothing from it */

static int64_t take(sl_producer_ids_t *ids)
{
    int64_t id = -1;
    assert_int_equal(sl__producer_ids_next(ids, &id), 0);
    return id;
}

static void test_no_id_before_the_first_block(void **state)
{
    (void)state;
    sl_producer_ids_t ids;
    sl__producer_ids_init_from_controller(&ids, &cfg);
    int64_t id = -1;
    assert_int_equal(sl__producer_ids_next(&ids, &id), -EAGAIN);
    assert_true(sl__producer_ids_block_wanted(&ids));
    sl__producer_ids_block_requested(&ids);
    assert_false(sl__producer_ids_block_wanted(&ids)); /* one request out at a time */
    assert_int_equal(sl__producer_ids_next(&ids, &id), -EAGAIN);
    sl__producer_ids_block_received(&ids, SL_KERR_NONE, 3000, 1000);
    assert_int_equal(take(&ids), 3000);
    assert_int_equal(take(&ids), 3001);
    assert_false(sl__producer_ids_block_wanted(&ids));
}

static void test_next_block_prefetched_at_ninety_percent(void **state)
{
    (void)state;
    sl_producer_ids_t ids;
    sl__producer_ids_init_from_controller(&ids, &cfg);
    sl__producer_ids_block_requested(&ids);
    sl__producer_ids_block_received(&ids, SL_KERR_NONE, 0, 1000);
    for (int64_t i = 0; i < 899; i++)
        assert_int_equal(take(&ids), i);
    assert_false(sl__producer_ids_block_wanted(&ids));
    assert_int_equal(take(&ids), 899);
    assert_true(sl__producer_ids_block_wanted(&ids)); /* 900 of 1000 used */
    sl__producer_ids_block_requested(&ids);
    sl__producer_ids_block_received(&ids, SL_KERR_NONE, 7000, 1000); /* another broker had 1000.. */
    assert_false(sl__producer_ids_block_wanted(&ids));
    for (int64_t i = 900; i < 1000; i++)
        assert_int_equal(take(&ids), i);
    assert_int_equal(take(&ids), 7000); /* switched without waiting */
    assert_false(sl__producer_ids_block_wanted(&ids));
}

static void test_error_asks_again(void **state)
{
    (void)state;
    sl_producer_ids_t ids;
    sl__producer_ids_init_from_controller(&ids, &cfg);
    sl__producer_ids_block_requested(&ids);
    sl__producer_ids_block_received(&ids, SL_KERR_NOT_CONTROLLER, -1, 0);
    int64_t id = -1;
    assert_int_equal(sl__producer_ids_next(&ids, &id), -EAGAIN);
    assert_true(sl__producer_ids_block_wanted(&ids));
}

static void test_overlapping_or_empty_blocks_refused(void **state)
{
    (void)state;
    sl_producer_ids_t ids;
    sl__producer_ids_init_from_controller(&ids, &cfg);
    sl__producer_ids_block_requested(&ids);
    sl__producer_ids_block_received(&ids, SL_KERR_NONE, 1000, 1000);
    for (int i = 0; i < 950; i++)
        take(&ids);
    sl__producer_ids_block_requested(&ids);
    sl__producer_ids_block_received(&ids, SL_KERR_NONE, 1500, 1000); /* overlaps the current one */
    assert_true(sl__producer_ids_block_wanted(&ids));
    sl__producer_ids_block_requested(&ids);
    sl__producer_ids_block_received(&ids, SL_KERR_NONE, 5000, 0);
    sl__producer_ids_block_requested(&ids);
    sl__producer_ids_block_received(&ids, SL_KERR_NONE, INT64_MAX - 10, 1000);
    assert_true(sl__producer_ids_block_wanted(&ids));
    for (int i = 950; i < 1000; i++)
        take(&ids);
    int64_t id = -1;
    assert_int_equal(sl__producer_ids_next(&ids, &id), -EAGAIN); /* nothing overlapping was used */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_id_before_the_first_block),
        cmocka_unit_test(test_next_block_prefetched_at_ninety_percent),
        cmocka_unit_test(test_error_asks_again),
        cmocka_unit_test(test_overlapping_or_empty_blocks_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
