/* Tests for src/config/kafka_keys.c: the ignored Kafka keys stay sorted and disjoint from ours,
 * families by prefix, edit distance and suggestions. */
#include "test_config.h"

static void test_kafka_list_shape(void **state)
{
    (void)state;
    assert_true(sl__config_kafka_keys_sorted());
    for (size_t i = 0; sl__config_kafka_key_at(i) != NULL; i++)
        assert_null(sl_config_key_find(sl__config_kafka_key_at(i)));
    for (size_t i = 0; i < sl_config_key_count(); i++)
        assert_false(sl__config_kafka_key_known(sl_config_key_at(i)->name));
}

static void test_kafka_known(void **state)
{
    (void)state;
    const char *known[] = {"num.io.threads",
                           "zookeeper.connect",
                           "num.network.threads",
                           "log.cleaner.io.buffer.size",
                           "broker.id",
                           "controller.quorum.append.linger.ms",
                           "ssl.keystore.location",
                           "sasl.enabled.mechanisms",
                           "listener.name.internal.sasl.enabled.mechanisms",
                           "remote.log.storage.system.enable",
                           "num.replica.fetchers",
                           "log.cleaner.min.cleanable.ratio",
                           "background.threads"};
    for (size_t i = 0; i < SL_ARRAY_LEN(known); i++)
        assert_true(sl__config_kafka_key_known(known[i]));
    assert_false(sl__config_kafka_key_known("ssl."));
    assert_false(sl__config_kafka_key_known("num.io.threadz"));
    assert_false(sl__config_kafka_key_known(""));
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(sl__config_edit_distance("", ""), 0);
    assert_int_equal(sl__config_edit_distance("abc", ""), 3);
    assert_int_equal(sl__config_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(sl__config_edit_distance("log.retention.msx", "log.retention.ms"), 1);
    char huge[SL_CONFIG_NAME_BYTES_MAX + 2];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_true(sl__config_edit_distance(huge, "a") == SIZE_MAX);
}

static void test_suggest(void **state)
{
    (void)state;
    assert_string_equal(sl__config_suggest("log.retention.msx"), "log.retention.ms");
    assert_string_equal(sl__config_suggest("node_id"), "node.id");
    assert_string_equal(sl__config_suggest("Listeners"), "listeners");
    assert_string_equal(sl__config_suggest("log.segment.byte"), "log.segment.bytes");
    assert_null(sl__config_suggest("x"));
    assert_null(sl__config_suggest("something.else.entirely"));
}

int test_kafka_keys_run(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_kafka_list_shape),
        TEST(test_kafka_known),
        TEST(test_edit_distance),
        TEST(test_suggest),
    };
    return cmocka_run_group_tests_name("config/kafka_keys", tests, NULL, NULL);
}
