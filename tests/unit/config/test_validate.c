/* Tests for src/config/validate.c and load.c: types, bounds at their edges, enums, lists, unknown
 * keys with suggestions, Kafka keys that only warn, and the rules between keys. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_config.h"

static void test_wrong_types(void **state)
{
    (void)state;
    test_expect_error("num.partitions: abc\n",
                      "t.yaml:1:17: num.partitions: must be an integer, got \"abc\"");
    test_expect_error("node.id: 0x10\n", "t.yaml:1:10: node.id: must be an integer, got \"0x10\"");
    test_expect_error("node.id: 1.5\n", "t.yaml:1:10: node.id: must be an integer, got \"1.5\"");
    test_expect_error("node.id: ''\n", "t.yaml:1:10: node.id: must be an integer, got \"\"");
    test_expect_error("auto.create.topics.enable: yes\n",
                      "t.yaml:1:28: auto.create.topics.enable: must be true or false, got \"yes\"");
    test_expect_error("storage.io.backend: epoll\n",
                      "t.yaml:1:21: storage.io.backend: must be one of auto, io_uring, sync; got "
                      "\"epoll\"");
    test_expect_error("log.level: verbose\n",
                      "t.yaml:1:12: log.level: must be one of debug, info, warn, error; got "
                      "\"verbose\"");
    test_expect_error("num.partitions: [1]\n",
                      "t.yaml:1:17: num.partitions: expects a single value, got a list");
    test_expect_error("log.cleanup.policy: [delete, shred]\n",
                      "t.yaml:1:21: log.cleanup.policy: \"shred\" is not one of compact, delete");
    test_expect_error("log.dirs: []\n", "t.yaml:1:11: log.dirs: must not be empty");
    test_expect_error("log.dirs: ''\n", "t.yaml:1:11: log.dirs: must not be empty");
    test_expect_error("log.dirs: /a,,/b\n", "t.yaml:1:11: log.dirs: list has an empty item");
    test_expect_error("log.dirs: [/a, '']\n", "t.yaml:1:11: log.dirs: list has an empty item");
}

static void test_ranges(void **state)
{
    (void)state;
    test_expect_error("log.segment.bytes: 3\n",
                      "t.yaml:1:20: log.segment.bytes: must be between 14 and 2147483647, got 3");
    test_expect_error("log.segment.bytes: 2147483648\n",
                      "t.yaml:1:20: log.segment.bytes: must be between 14 and 2147483647, got "
                      "2147483648");
    test_expect_error("node.id: -1\n",
                      "t.yaml:1:10: node.id: must be between 0 and 2147483647, got -1");
    test_expect_error("default.replication.factor: 32768\n",
                      "t.yaml:1:29: default.replication.factor: must be between 1 and 32767, got "
                      "32768");
    test_expect_error("log.retention.ms: 9223372036854775808\n",
                      "t.yaml:1:19: log.retention.ms: must be between -1 and 9223372036854775807, "
                      "got 9223372036854775808");
    test_expect_error("log.retention.ms: -2\n",
                      "t.yaml:1:19: log.retention.ms: must be between -1 and 9223372036854775807, "
                      "got -2");
    test_expect_error("num.partitions: 0\n",
                      "t.yaml:1:17: num.partitions: must be between 1 and 2147483647, got 0");
    test_expect_error("queued.max.request.bytes: -2\n",
                      "t.yaml:1:27: queued.max.request.bytes: must be between -1 and 2147483647, "
                      "got -2");
}

static void test_boundaries_accepted(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "log.segment.bytes: 14\n"
                       "node.id: 0\n"
                       "default.replication.factor: 32767\n"
                       "log.retention.bytes: 9223372036854775807\n"
                       "message.max.bytes: 0\n"
                       "num.partitions: 2147483647\n"
                       "connections.max.idle.ms: -1\n"
                       "log.index.size.max.bytes: 4\n"
                       "log.flush.interval.messages: 1\n");
    assert_int_equal(cfg.log_segment_bytes, 14);
    assert_int_equal(cfg.node_id, 0);
    assert_int_equal(cfg.default_replication_factor, 32767);
    assert_true(cfg.log_retention_bytes == INT64_MAX);
    assert_int_equal(cfg.message_max_bytes, 0);
    assert_int_equal(cfg.num_partitions, INT32_MAX);
    assert_int_equal(cfg.connections_max_idle_ms, -1);
    assert_int_equal(cfg.log_index_size_max_bytes, 4);
    assert_int_equal(cfg.log_flush_interval_messages, 1);
    sl_config_deinit(&cfg);
    test_load_ok(&cfg, "log.segment.bytes: 2147483647\nlog.retention.ms: -1\n"
                       "node.id: '+7'\nnum.partitions: \" 3 \"\n");
    assert_int_equal(cfg.log_segment_bytes, 2147483647);
    assert_int_equal(cfg.log_retention_ms, -1);
    assert_int_equal(cfg.node_id, 7);
    assert_int_equal(cfg.num_partitions, 3);
    sl_config_deinit(&cfg);
}

static void test_bools_enums_lists(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "auto.create.topics.enable: FALSE\n"
                       "delete.topic.enable: false\n"
                       "storage.io.backend: sync\n"
                       "log.format: json\n"
                       "log.level: WARN\n"
                       "log.cleanup.policy: Compact, delete\n");
    assert_false(cfg.auto_create_topics_enable);
    assert_false(cfg.delete_topic_enable);
    assert_int_equal(cfg.storage_io_backend, SL_IO_BACKEND_SYNC);
    assert_int_equal(cfg.log_format, SL_LOG_FORMAT_JSON);
    assert_int_equal(cfg.log_level, SL_LOG_WARN);
    assert_int_equal(cfg.log_cleanup_policy_count, 2);
    assert_string_equal(cfg.log_cleanup_policy[0], "compact");
    assert_string_equal(cfg.log_cleanup_policy[1], "delete");
    sl_config_deinit(&cfg);
    test_load_ok(&cfg, "storage.io.backend: io_uring\nlog.level: debug\n");
    assert_int_equal(cfg.storage_io_backend, SL_IO_BACKEND_IO_URING);
    assert_int_equal(cfg.log_level, SL_LOG_DEBUG);
    sl_config_deinit(&cfg);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    test_expect_error("log.retention.msx: 5\n",
                      "t.yaml:1:1: unknown key \"log.retention.msx\" (did you mean "
                      "\"log.retention.ms\"?)");
    test_expect_error("num.partitions: 1\nlog:\n  segmant.bytes: 5\n",
                      "t.yaml:3:3: unknown key \"log.segmant.bytes\" (did you mean "
                      "\"log.segment.bytes\"?)");
    test_expect_error("advertised.listener: PLAINTEXT://:1\n",
                      "t.yaml:1:1: unknown key \"advertised.listener\" (did you mean "
                      "\"advertised.listeners\"?)");
    test_expect_error(
        "num.io.thread: 8\n",
        "t.yaml:1:1: unknown key \"num.io.thread\" (did you mean \"num.io.threads\"?)");
    test_expect_error("completely.different: 1\n",
                      "t.yaml:1:1: unknown key \"completely.different\"");
    test_expect_error("x: 1\n", "t.yaml:1:1: unknown key \"x\"");
    /* A key that is a prefix of real keys (a mapping written as a scalar). */
    test_expect_error("log: 5\n", "t.yaml:1:1: unknown key \"log\"");
}

static void test_kafka_keys_warn(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "num.io.threads: 8\n"
                       "zookeeper.connect: zk:2181\n"
                       "num.network.threads: 3\n"
                       "log.cleaner.io.buffer.size: 524288\n"
                       "ssl.keystore.location: /x.jks\n"
                       "listener.name.internal.ssl.keystore.location: /y.jks\n"
                       "num.replica.fetchers: 2\n"
                       "controller.quorum.append.linger.ms: 25\n"
                       "num.partitions: 3\n");
    assert_int_equal(cfg.num_partitions, 3);
    assert_int_equal(test_warnings_count(), 8);
    assert_string_equal(test_warning_key(0), "num.io.threads");
    assert_string_equal(test_warning_key(1), "zookeeper.connect");
    assert_string_equal(test_warning_key(5), "listener.name.internal.ssl.keystore.location");
    assert_string_equal(test_warning_key(7), "controller.quorum.append.linger.ms");
    sl_config_deinit(&cfg);
}

static void test_retention_precedence(void **state)
{
    (void)state;
    struct {
        const char *yaml;
        int64_t retention_ms;
    } cases[] = {
        {"", 168LL * 3600000},
        {"log.retention.hours: 1\n", 3600000},
        {"log.retention.hours: 1\nlog.retention.minutes: 2\n", 120000},
        {"log.retention.hours: 1\nlog.retention.minutes: 2\nlog.retention.ms: 3\n", 3},
        {"log.retention.ms: 3\nlog.retention.hours: 1\n", 3},
        {"log.retention.hours: -1\n", -1},
        {"log.retention.minutes: -1\nlog.retention.hours: 5\n", -1},
        {"log.retention.ms: -1\nlog.retention.minutes: 5\n", -1},
        {"log.retention.ms: 0\n", 0},
        {"log.retention.hours: 2147483647\n", 2147483647LL * 3600000},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_config_t cfg;
        test_load_ok(&cfg, cases[i].yaml);
        assert_true(cfg.log_retention_ms == cases[i].retention_ms);
        sl_config_deinit(&cfg);
    }
}

static void test_roll_and_flush(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "log.roll.hours: 1\n");
    assert_int_equal(cfg.log_roll_ms, 3600000);
    assert_true(cfg.log_flush_interval_ms == INT64_MAX);
    sl_config_deinit(&cfg);
    test_load_ok(&cfg, "log.roll.hours: 1\nlog.roll.ms: 5000\nlog.flush.interval.ms: 1000\n");
    assert_int_equal(cfg.log_roll_ms, 5000);
    assert_int_equal(cfg.log_flush_interval_ms, 1000);
    sl_config_deinit(&cfg);
    test_expect_error("log.roll.ms: 0\n",
                      "t.yaml:1:14: log.roll.ms: must be between 1 and 9223372036854775807, got 0");
}

static void test_log_dir_and_dirs(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "log.dir: /data\n");
    assert_int_equal(cfg.log_dirs_count, 1);
    assert_string_equal(cfg.log_dirs[0], "/data");
    sl_config_deinit(&cfg);
    test_load_ok(&cfg, "log.dir: /data\nlog.dirs: /d1,/d2\n");
    assert_int_equal(cfg.log_dirs_count, 2);
    assert_string_equal(cfg.log_dirs[0], "/d1");
    assert_string_equal(cfg.log_dirs[1], "/d2");
    sl_config_deinit(&cfg);
}

static void test_session_timeouts(void **state)
{
    (void)state;
    test_expect_error("group.min.session.timeout.ms: 10\ngroup.max.session.timeout.ms: 5\n",
                      "t.yaml:1:31: group.min.session.timeout.ms: must not be greater than "
                      "group.max.session.timeout.ms (5)");
    sl_config_t cfg;
    test_load_ok(&cfg, "group.min.session.timeout.ms: 5\ngroup.max.session.timeout.ms: 5\n");
    sl_config_deinit(&cfg);
}

/* Every allocation of a rich load fails in turn: an error or success, never a crash or a leak. */
static void test_out_of_memory(void **state)
{
    (void)state;
    const char *yaml = "node.id: 3\n"
                       "log.dirs: [/a, /b]\n"
                       "listeners: PLAINTEXT://:9092,INTERNAL://[::1]:9093\n"
                       "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT\n"
                       "advertised.listeners: PLAINTEXT://${SL_TEST_HOST}:9092\n"
                       "log: {retention: {ms: 5}, cleanup.policy: [delete]}\n"
                       "num.io.threads: 8\n";
    setenv("SL_TEST_HOST", "broker-0", 1);
    size_t before = sl_alloc_bytes_in_use();
    bool succeeded = false;
    for (uint64_t n = 1; n < 2000 && !succeeded; n++) {
        sl_config_t cfg;
        char err[SL_CONFIG_ERR_BYTES];
        sl_alloc_fail_after(n);
        int rc = test_load(&cfg, yaml, err);
        sl_alloc_fail_after(0);
        if (rc == 0) {
            succeeded = true;
            assert_int_equal(cfg.node_id, 3);
        } else {
            assert_int_equal(rc, -ENOMEM);
            assert_string_equal(err, "t.yaml: out of memory while loading the configuration");
        }
        sl_config_deinit(&cfg);
        assert_int_equal(sl_alloc_bytes_in_use(), before);
    }
    assert_true(succeeded);
    unsetenv("SL_TEST_HOST");
}

int test_validate_run(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_wrong_types),          TEST(test_ranges),         TEST(test_boundaries_accepted),
        TEST(test_bools_enums_lists),    TEST(test_unknown_keys),   TEST(test_kafka_keys_warn),
        TEST(test_retention_precedence), TEST(test_roll_and_flush), TEST(test_log_dir_and_dirs),
        TEST(test_session_timeouts),     TEST(test_out_of_memory),
    };
    return cmocka_run_group_tests_name("config/validate", tests, NULL, NULL);
}
