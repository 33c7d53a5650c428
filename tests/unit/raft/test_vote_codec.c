/* Unit test for the Vote v2 codec that tools/protogen/overlay/ adds to Kafka 3.9's schemas
 * (KIP-996 pre-vote, as Kafka 4.0 speaks it): PreVote is on the wire from version 2 only, and the
 * renamed replica fields keep their places. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/protocol.h"

static size_t encode_vote(int16_t version, bool pre_vote, uint8_t *out, size_t cap)
{
    sl_vote_request_partition_data_t partition;
    sl_vote_request_partition_data_init(&partition);
    partition.partition_index = 0;
    partition.replica_epoch = 7;
    partition.replica_id = 2;
    partition.last_offset_epoch = 6;
    partition.last_offset = 1234;
    partition.pre_vote = pre_vote;
    sl_vote_request_topic_data_t topic;
    sl_vote_request_topic_data_init(&topic);
    topic.topic_name = sl_slice_from_str("__cluster_metadata");
    topic.partitions = &partition;
    topic.partitions_count = 1;
    sl_vote_request_t req;
    sl_vote_request_init(&req);
    req.topics = &topic;
    req.topics_count = 1;
    sl_writer_t w;
    sl_writer_init(&w, out, cap);
    assert_int_equal(sl_vote_request_encode(&w, version, &req), 0);
    assert_int_equal(sl_vote_request_size(version, &req), cap - sl_writer_left(&w));
    return cap - sl_writer_left(&w);
}

static void test_vote_v2_carries_pre_vote(void **state)
{
    (void)state;
    uint8_t v1[256], v2[256];
    size_t len1 = encode_vote(1, false, v1, sizeof v1);
    size_t len2 = encode_vote(2, true, v2, sizeof v2);
    assert_int_equal(len2, len1 + 1); /* one bool more, nothing else moved */

    sl_arena_t arena;
    sl_arena_init(&arena, 64 * 1024);
    sl_reader_t r;
    sl_reader_init(&r, v2, len2);
    sl_vote_request_t got;
    assert_int_equal(sl_vote_request_decode(&r, &arena, 2, &got), 0);
    assert_int_equal(got.topics_count, 1);
    assert_int_equal(got.topics[0].partitions_count, 1);
    const sl_vote_request_partition_data_t *p = &got.topics[0].partitions[0];
    assert_true(p->pre_vote);
    assert_int_equal(p->replica_epoch, 7);
    assert_int_equal(p->replica_id, 2);
    assert_int_equal(p->last_offset_epoch, 6);
    assert_int_equal(p->last_offset, 1234);

    sl_reader_init(&r, v1, len1); /* version 1 has no PreVote: it reads back false */
    assert_int_equal(sl_vote_request_decode(&r, &arena, 1, &got), 0);
    assert_false(got.topics[0].partitions[0].pre_vote);
    assert_int_equal(got.topics[0].partitions[0].replica_epoch, 7);
    sl_arena_deinit(&arena);
}

static void test_vote_api_advertises_version_2(void **state)
{
    (void)state;
    const sl_api_info_t *api = sl_api_info(SL_API_VOTE);
    assert_non_null(api);
    assert_int_equal(api->version_max, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_v2_carries_pre_vote),
        cmocka_unit_test(test_vote_api_advertises_version_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
