/* Tests for src/config/topic_config.c: the topic config table's shape, Kafka's validation texts
 * per type, defaults and their sources from the broker configuration, synonym chains, and the
 * effective settings handed to the log. Its own binary (test_topic_config), sharing
 * test_support.c's leak check with the config tests. */
#include <stdio.h>
#include <stdlib.h>

#include "test_config.h"

static void expect_invalid(const char *name, const char *value, int rc_want, const char *want)
{
    char err[512];
    int rc = sl_topic_config_validate(name, value, err, sizeof(err));
    if (rc != rc_want || strcmp(err, want) != 0)
        fail_msg("%s=%s: rc %d err \"%s\", want rc %d \"%s\"", name, value, rc, err, rc_want, want);
}

static void expect_valid(const char *name, const char *value)
{
    char err[512] = "";
    if (sl_topic_config_validate(name, value, err, sizeof(err)) != 0)
        fail_msg("%s=%s refused: %s", name, value, err);
}

static void test_table_shape(void **state)
{
    (void)state;
    size_t n = sl_topic_config_key_count();
    assert_true(n >= 30);
    assert_null(sl_topic_config_key_at(n));
    for (size_t i = 0; i < n; i++) {
        const sl_topic_config_key_t *k = sl_topic_config_key_at(i);
        assert_ptr_equal(sl_topic_config_key_find(k->name), k);
        if (i > 0)
            assert_true(strcmp(sl_topic_config_key_at(i - 1)->name, k->name) < 0);
        /* Every default is a valid value of its own key. */
        expect_valid(k->name, k->default_text);
        assert_non_null(k->doc);
        /* Where the broker key is one of ours, its type agrees (INT vs LONG aside). */
        const sl_config_key_t *bk =
            k->broker_synonym != NULL ? sl_config_key_find(k->broker_synonym) : NULL;
        if (bk != NULL && k->type != SL_CONFIG_TYPE_INT && k->type != SL_CONFIG_TYPE_LONG)
            assert_int_equal(bk->type, k->type);
    }
    assert_null(sl_topic_config_key_find("log.retention.ms"));
    assert_string_equal(sl_topic_config_key_find("retention.ms")->broker_synonym,
                        "log.retention.ms");
    assert_string_equal(sl_topic_config_key_find("segment.ms")->broker_synonym, "log.roll.ms");
    assert_string_equal(sl_topic_config_key_find("max.message.bytes")->broker_synonym,
                        "message.max.bytes");
    assert_null(sl_topic_config_key_find("remote.storage.enable")->broker_synonym);
}

/* The texts are what Apache Kafka's CreateTopics answers (checked against 4.0.0). */
static void test_validate_errors(void **state)
{
    (void)state;
    expect_invalid("nope.x", "1", SL_ENOTFOUND, "Unknown topic config name: nope.x");
    expect_invalid("retention.ms", "abc", SL_ECONFIG,
                   "Invalid value abc for configuration retention.ms: Not a number of type LONG");
    expect_invalid("retention.ms", "-5", SL_ECONFIG,
                   "Invalid value -5 for configuration retention.ms: Value must be at least -1");
    expect_invalid("retention.ms", "1.5", SL_ECONFIG,
                   "Invalid value 1.5 for configuration retention.ms: Not a number of type LONG");
    expect_invalid("retention.ms", "99999999999999999999", SL_ECONFIG,
                   "Invalid value 99999999999999999999 for configuration retention.ms: Not a "
                   "number of type LONG");
    expect_invalid("segment.bytes", "99999999999", SL_ECONFIG,
                   "Invalid value 99999999999 for configuration segment.bytes: Not a number of "
                   "type INT");
    expect_invalid("segment.bytes", "10", SL_ECONFIG,
                   "Invalid value 10 for configuration segment.bytes: Value must be at least 14");
    expect_invalid("compression.type", "foo", SL_ECONFIG,
                   "Invalid value foo for configuration compression.type: String must be one "
                   "of: uncompressed, zstd, lz4, snappy, gzip, producer");
    expect_invalid("preallocate", "x", SL_ECONFIG,
                   "Invalid value x for configuration preallocate: Expected value to be either "
                   "true or false");
    expect_invalid("cleanup.policy", "foo", SL_ECONFIG,
                   "Invalid value foo for configuration cleanup.policy: String must be one of: "
                   "compact, delete");
    expect_invalid("cleanup.policy", "compact,bar", SL_ECONFIG,
                   "Invalid value bar for configuration cleanup.policy: String must be one of: "
                   "compact, delete");
    expect_invalid("min.cleanable.dirty.ratio", "2", SL_ECONFIG,
                   "Invalid value 2.0 for configuration min.cleanable.dirty.ratio: Value must be "
                   "no more than 1");
    expect_invalid("min.cleanable.dirty.ratio", "abc", SL_ECONFIG,
                   "Invalid value abc for configuration min.cleanable.dirty.ratio: Not a number "
                   "of type DOUBLE");
    expect_invalid("leader.replication.throttled.replicas", "x", SL_ECONFIG,
                   "Invalid value [x] for configuration leader.replication.throttled.replicas: "
                   "leader.replication.throttled.replicas must be the literal '*' or a list of "
                   "replicas in the following format: "
                   "[partitionId]:[brokerId],[partitionId]:[brokerId],...");
    expect_invalid("message.timestamp.type", "createtime", SL_ECONFIG,
                   "Invalid value createtime for configuration message.timestamp.type: String "
                   "must be one of: CreateTime, LogAppendTime");
    /* A NULL err with err_len 0 only reports. */
    assert_int_equal(sl_topic_config_validate("retention.ms", "x", NULL, 0), SL_ECONFIG);
    assert_int_equal(sl_topic_config_validate("x.y", "1", NULL, 0), SL_ENOTFOUND);
}

static void test_validate_ok(void **state)
{
    (void)state;
    expect_valid("retention.ms", "-1");
    expect_valid("retention.ms", " 1000 ");
    expect_valid("retention.bytes", "-5"); /* Kafka puts no bound on it */
    expect_valid("segment.bytes", "14");
    expect_valid("preallocate", "TRUE");
    expect_valid("cleanup.policy", "compact,delete");
    expect_valid("cleanup.policy", "compact, delete");
    expect_valid("cleanup.policy", "");
    expect_valid("min.cleanable.dirty.ratio", "0.25");
    expect_valid("leader.replication.throttled.replicas", "*");
    expect_valid("leader.replication.throttled.replicas", "0:1,1:2");
    expect_valid("follower.replication.throttled.replicas", "");
    expect_valid("message.timestamp.type", "LogAppendTime");
    expect_valid("max.message.bytes", "2147483647");
}

static void expect_default(const sl_config_t *cfg, const char *name, const char *want,
                           sl_config_source_t source_want)
{
    char out[SL_TOPIC_CONFIG_VALUE_BYTES_MAX];
    sl_config_source_t source = (sl_config_source_t)99;
    const sl_topic_config_key_t *key = sl_topic_config_key_find(name);
    assert_non_null(key);
    assert_int_equal(sl_topic_config_default(cfg, key, out, sizeof(out), &source), 0);
    if (strcmp(out, want) != 0 || source != source_want)
        fail_msg("%s: \"%s\" source %d, want \"%s\" source %d", name, out, (int)source, want,
                 (int)source_want);
}

static void test_defaults_from_broker(void **state)
{
    (void)state;
    sl_config_t cfg;
    sl_config_init_defaults(&cfg);
    expect_default(&cfg, "retention.ms", "604800000", SL_CONFIG_SOURCE_DEFAULT);
    expect_default(&cfg, "segment.ms", "604800000", SL_CONFIG_SOURCE_DEFAULT);
    expect_default(&cfg, "flush.ms", "9223372036854775807", SL_CONFIG_SOURCE_DEFAULT);
    expect_default(&cfg, "segment.bytes", "1073741824", SL_CONFIG_SOURCE_DEFAULT);
    expect_default(&cfg, "cleanup.policy", "delete", SL_CONFIG_SOURCE_DEFAULT);
    expect_default(&cfg, "compression.type", "producer", SL_CONFIG_SOURCE_DEFAULT);
    expect_default(&cfg, "delete.retention.ms", "86400000", SL_CONFIG_SOURCE_DEFAULT);
    expect_default(&cfg, "min.cleanable.dirty.ratio", "0.5", SL_CONFIG_SOURCE_DEFAULT);
    expect_default(&cfg, "follower.replication.throttled.replicas", "", SL_CONFIG_SOURCE_DEFAULT);
    sl_config_deinit(&cfg);

    test_load_ok(&cfg, "log.retention.hours: 24\n"
                       "log.segment.bytes: 1048576\n"
                       "log.cleanup.policy: [compact, delete]\n"
                       "log.message.timestamp.type: LogAppendTime\n"
                       "log.roll.ms: 60000\n");
    expect_default(&cfg, "retention.ms", "86400000", SL_CONFIG_SOURCE_FILE);
    expect_default(&cfg, "segment.bytes", "1048576", SL_CONFIG_SOURCE_FILE);
    expect_default(&cfg, "cleanup.policy", "compact,delete", SL_CONFIG_SOURCE_FILE);
    expect_default(&cfg, "message.timestamp.type", "LogAppendTime", SL_CONFIG_SOURCE_FILE);
    expect_default(&cfg, "segment.ms", "60000", SL_CONFIG_SOURCE_FILE);
    expect_default(&cfg, "max.message.bytes", "1048588", SL_CONFIG_SOURCE_DEFAULT);
    char small[4];
    assert_int_equal(sl_topic_config_default(&cfg, sl_topic_config_key_find("retention.ms"), small,
                                             sizeof(small), NULL),
                     SL_ELIMIT);
    sl_config_deinit(&cfg);
}

static void test_synonym_chains(void **state)
{
    (void)state;
    const char *out[SL_CONFIG_SYNONYMS_MAX];
    assert_int_equal(sl_config_key_synonyms("log.retention.hours", out, 3), 3);
    assert_string_equal(out[0], "log.retention.ms");
    assert_string_equal(out[2], "log.retention.hours");
    assert_int_equal(sl_config_key_synonyms("log.roll.ms", out, 3), 2);
    assert_string_equal(out[1], "log.roll.hours");
    assert_int_equal(sl_config_key_synonyms("num.partitions", out, 3), 1);
    assert_string_equal(out[0], "num.partitions");
}

static void test_new_broker_keys(void **state)
{
    (void)state;
    sl_config_t cfg;
    sl_config_init_defaults(&cfg);
    assert_int_equal(cfg.storage_sync_policy, SL_STORAGE_SYNC_ACK);
    assert_int_equal(cfg.log_message_timestamp_type, SL_CONFIG_TIMESTAMP_CREATE_TIME);
    assert_int_equal(cfg.min_insync_replicas, 1);
    assert_int_equal(cfg.compression_type, SL_CONFIG_COMPRESSION_PRODUCER);
    assert_string_equal(cfg.inter_broker_protocol_version, "3.9-IV0");
    assert_null(cfg.broker_rack);
    char out[64];
    assert_int_equal(
        sl_config_value_text(&cfg, sl_config_key_find("broker.rack"), out, sizeof(out)),
        SL_ENOTFOUND);
    sl_config_deinit(&cfg);
    test_load_ok(&cfg, "storage.sync.policy: interval\nbroker.rack: eu-west-1a\n"
                       "compression.type: zstd\n");
    assert_int_equal(cfg.storage_sync_policy, SL_STORAGE_SYNC_INTERVAL);
    assert_string_equal(cfg.broker_rack, "eu-west-1a");
    assert_int_equal(cfg.compression_type, SL_CONFIG_COMPRESSION_ZSTD);
    sl_config_deinit(&cfg);
}

static void test_effective(void **state)
{
    (void)state;
    sl_config_t cfg;
    sl_topic_log_settings_t s;
    sl_config_init_defaults(&cfg);
    sl_topic_config_effective(&cfg, NULL, NULL, 0, &s);
    assert_int_equal(s.segment_bytes, 1073741824);
    assert_int_equal(s.segment_ms, 604800000);
    assert_int_equal(s.retention_ms, 604800000);
    assert_int_equal(s.retention_bytes, -1);
    assert_int_equal(s.index_interval_bytes, 4096);
    assert_int_equal(s.segment_index_bytes, 10485760);
    assert_int_equal(s.max_message_bytes, 1048588);
    assert_true(s.flush_messages == INT64_MAX);
    assert_true(s.flush_ms == INT64_MAX);
    assert_false(s.log_append_time);
    assert_true(s.sync_on_ack);
    assert_true(s.cleanup_delete);
    assert_false(s.cleanup_compact);
    assert_int_equal(s.compression_type, SL_CONFIG_COMPRESSION_PRODUCER);
    sl_config_deinit(&cfg);

    test_load_ok(&cfg, "storage.sync.policy: interval\nlog.segment.bytes: 2048\n");
    const char *names[] = {
        "retention.ms",     "segment.ms",     "max.message.bytes",  "message.timestamp.type",
        "preallocate",      "cleanup.policy", "retention.bytes",    "flush.messages",
        "compression.type", "bogus.key",      "segment.index.bytes"};
    const char *values[] = {" 1000", "5000", "12345", "LogAppendTime", "true", "compact", "-1",
                            "10",    "lz4",  "7",     "oops"};
    sl_topic_config_effective(&cfg, names, values, SL_ARRAY_LEN(names), &s);
    assert_int_equal(s.retention_ms, 1000);
    assert_int_equal(s.segment_ms, 5000);
    assert_int_equal(s.segment_bytes, 2048);
    assert_int_equal(s.max_message_bytes, 12345);
    assert_true(s.log_append_time);
    assert_true(s.preallocate);
    assert_true(s.cleanup_compact);
    assert_false(s.cleanup_delete);
    assert_int_equal(s.flush_messages, 10);
    assert_false(s.sync_on_ack);
    assert_int_equal(s.compression_type, SL_CONFIG_COMPRESSION_LZ4);
    assert_int_equal(s.segment_index_bytes, 10485760); /* the invalid override is ignored */
    sl_config_deinit(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_table_shape),    TEST(test_validate_errors),      TEST(test_validate_ok),
        TEST(test_synonym_chains), TEST(test_defaults_from_broker), TEST(test_new_broker_keys),
        TEST(test_effective),
    };
    return cmocka_run_group_tests_name("config/topic_config", tests, NULL, NULL);
}
