/* Tests for src/config/schema.c and docs.c: Kafka's defaults, the table's self-consistency, the
 * value as text for DescribeConfigs, and that docs/configuration.md is what the table prints. */
#include <stdio.h>
#include <stdlib.h>

#include "test_config.h"

static void test_defaults(void **state)
{
    (void)state;
    sl_config_t cfg;
    sl_config_init_defaults(&cfg);
    assert_int_equal(cfg.node_id, 1);
    assert_string_equal(cfg.log_dir, "/tmp/kafka-logs");
    assert_int_equal(cfg.log_dirs_count, 1);
    assert_string_equal(cfg.log_dirs[0], "/tmp/kafka-logs");
    assert_int_equal(cfg.listeners_count, 1);
    assert_string_equal(cfg.listeners[0].name, "PLAINTEXT");
    assert_string_equal(cfg.listeners[0].host, "");
    assert_int_equal(cfg.listeners[0].port, 9092);
    assert_int_equal(cfg.listeners[0].security, SL_SECURITY_PLAINTEXT);
    assert_int_equal(cfg.advertised_listeners_count, 1);
    assert_int_equal(cfg.advertised_listeners[0].port, 9092);
    assert_int_equal(cfg.listener_security_protocol_map_count, 4);
    assert_int_equal(cfg.num_partitions, 1);
    assert_int_equal(cfg.default_replication_factor, 1);
    assert_true(cfg.auto_create_topics_enable);
    assert_int_equal(cfg.log_segment_bytes, 1073741824);
    assert_int_equal(cfg.log_roll_hours, 168);
    assert_int_equal(cfg.log_roll_ms, 168LL * 3600 * 1000);
    assert_int_equal(cfg.log_retention_hours, 168);
    assert_int_equal(cfg.log_retention_ms, 168LL * 3600 * 1000);
    assert_int_equal(cfg.log_retention_bytes, -1);
    assert_int_equal(cfg.log_retention_check_interval_ms, 300000);
    assert_int_equal(cfg.message_max_bytes, 1048588);
    assert_int_equal(cfg.socket_request_max_bytes, 104857600);
    assert_int_equal(cfg.queued_max_request_bytes, -1);
    assert_int_equal(cfg.connections_max_idle_ms, 600000);
    assert_true(cfg.log_flush_interval_messages == INT64_MAX);
    assert_true(cfg.log_flush_interval_ms == INT64_MAX);
    assert_int_equal(cfg.log_index_interval_bytes, 4096);
    assert_int_equal(cfg.log_index_size_max_bytes, 10485760);
    assert_int_equal(cfg.log_cleanup_policy_count, 1);
    assert_string_equal(cfg.log_cleanup_policy[0], "delete");
    assert_true(cfg.delete_topic_enable);
    assert_int_equal(cfg.offsets_topic_num_partitions, 50);
    assert_int_equal(cfg.offsets_retention_minutes, 10080);
    assert_int_equal(cfg.group_initial_rebalance_delay_ms, 3000);
    assert_int_equal(cfg.group_min_session_timeout_ms, 6000);
    assert_int_equal(cfg.group_max_session_timeout_ms, 1800000);
    assert_int_equal(cfg.storage_io_backend, SL_IO_BACKEND_AUTO);
    assert_int_equal(cfg.log_format, SL_LOG_FORMAT_TEXT);
    assert_int_equal(cfg.log_level, SL_LOG_INFO);
    for (size_t i = 0; i < sl_config_key_count(); i++)
        assert_true(sl_config_value_is_default(&cfg, sl_config_key_at(i)));
    sl_config_deinit(&cfg);
    sl_config_deinit(&cfg); /* twice is harmless */
}

static void test_table_consistent(void **state)
{
    (void)state;
    assert_true(sl_config_key_count() <= SL_CONFIG_KEYS_MAX);
    assert_null(sl_config_key_at(sl_config_key_count()));
    assert_null(sl_config_key_find("no.such.key"));
    for (size_t i = 0; i < sl_config_key_count(); i++) {
        const sl_config_key_t *key = sl_config_key_at(i);
        assert_ptr_equal(sl_config_key_find(key->name), key);
        assert_non_null(key->doc);
        assert_true(strlen(key->doc) > 10);
        assert_true(key->min <= key->max);
        assert_true(strlen(key->name) < SL_CONFIG_NAME_BYTES_MAX);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(sl_config_key_at(j)->name, key->name);
    }
}

/* The text of every default is exactly the table's default_text (what DescribeConfigs reports),
 * and a key Kafka defaults to null has no text. */
static void test_value_text_defaults(void **state)
{
    (void)state;
    sl_config_t cfg;
    sl_config_init_defaults(&cfg);
    for (size_t i = 0; i < sl_config_key_count(); i++) {
        const sl_config_key_t *key = sl_config_key_at(i);
        char text[512];
        int rc = sl_config_value_text(&cfg, key, text, sizeof(text));
        if (key->default_text == NULL) {
            assert_int_equal(rc, SL_ENOTFOUND);
            assert_string_equal(text, "");
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(text, key->default_text);
        }
    }
    sl_config_deinit(&cfg);
}

static void test_value_text_set(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "log.retention.minutes: 5\n"
                       "log.dirs: [/a, /b]\n"
                       "default.replication.factor: 3\n"
                       "auto.create.topics.enable: false\n"
                       "log.level: WARN\n");
    char text[64];
    struct {
        const char *key, *text;
    } cases[] = {
        {"log.retention.minutes", "5"},
        {"log.dirs", "/a,/b"},
        {"default.replication.factor", "3"},
        {"auto.create.topics.enable", "false"},
        {"log.level", "warn"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        const sl_config_key_t *key = sl_config_key_find(cases[i].key);
        assert_int_equal(sl_config_value_text(&cfg, key, text, sizeof(text)), 0);
        assert_string_equal(text, cases[i].text);
        assert_false(sl_config_value_is_default(&cfg, key));
    }
    /* log.retention.ms itself stays null; the effective value is in the field. */
    const sl_config_key_t *ms = sl_config_key_find("log.retention.ms");
    assert_int_equal(sl_config_value_text(&cfg, ms, text, sizeof(text)), SL_ENOTFOUND);
    assert_int_equal(cfg.log_retention_ms, 300000);
    /* Truncation is reported and the prefix stays terminated. */
    const sl_config_key_t *dirs = sl_config_key_find("log.dirs");
    assert_int_equal(sl_config_value_text(&cfg, dirs, text, 4), SL_ELIMIT);
    assert_string_equal(text, "/a,");
    assert_int_equal(sl_config_value_text(&cfg, dirs, text, 3), SL_ELIMIT);
    assert_string_equal(text, "/a");
    const sl_config_key_t *id = sl_config_key_find("node.id");
    assert_int_equal(sl_config_value_text(&cfg, id, text, 1), SL_ELIMIT);
    assert_string_equal(text, "");
    sl_config_deinit(&cfg);
}

static char *docs_text(size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    assert_non_null(out);
    assert_int_equal(sl_config_write_docs(out), 0);
    fclose(out);
    return text;
}

static void test_docs(void **state)
{
    (void)state;
    size_t len = 0;
    char *text = docs_text(&len);
    for (size_t i = 0; i < sl_config_key_count(); i++) {
        char needle[SL_CONFIG_NAME_BYTES_MAX + 8];
        snprintf(needle, sizeof(needle), "| `%s`<br>", sl_config_key_at(i)->name);
        assert_non_null(strstr(text, needle));
    }
    assert_non_null(strstr(text, "`SLUICE_CFG_LOG_RETENTION_MS`"));
    assert_non_null(strstr(text, "- `zookeeper.connect`\n"));
    /* Deterministic: a second run prints the same bytes. */
    size_t len2 = 0;
    char *again = docs_text(&len2);
    assert_int_equal(len, len2);
    assert_memory_equal(text, again, len);
    free(again);

    const char *src = getenv("SL_SOURCE_DIR");
    if (src != NULL) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/docs/configuration.md", src);
        const char *update = getenv("SL_CONFIG_DOCS_UPDATE");
        if (update != NULL && strcmp(update, "1") == 0) {
            FILE *f = fopen(path, "w");
            assert_non_null(f);
            assert_int_equal(fwrite(text, 1, len, f), len);
            fclose(f);
        }
        FILE *f = fopen(path, "r");
        if (f == NULL)
            fail_msg("%s is missing: run `build/sluice config docs > docs/configuration.md`", path);
        char *file = malloc(len + 2);
        assert_non_null(file);
        size_t got = fread(file, 1, len + 1, f);
        fclose(f);
        if (got != len || memcmp(file, text, len) != 0)
            fail_msg("%s differs from sl_config_write_docs(): run `make docs`", path);
        free(file);
    }
    free(text);
}

int test_schema_run(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_defaults),
        TEST(test_table_consistent),
        TEST(test_value_text_defaults),
        TEST(test_value_text_set),
        TEST(test_docs),
    };
    return cmocka_run_group_tests_name("config/schema", tests, NULL, NULL);
}
