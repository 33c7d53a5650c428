/* Tests for src/config/env.c: SLUICE_CFG_* overrides (they win over the file, and their errors
 * name the variable) and ${VAR} expansion with $$ escapes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_config.h"

static void test_env_names(void **state)
{
    (void)state;
    char name[64];
    assert_int_equal(sl__config_env_name("log.retention.ms", name, sizeof(name)), 0);
    assert_string_equal(name, "SLUICE_CFG_LOG_RETENTION_MS");
    assert_int_equal(sl__config_env_name("node.id", name, sizeof(name)), 0);
    assert_string_equal(name, "SLUICE_CFG_NODE_ID");
    assert_int_equal(sl__config_env_name("log.retention.check.interval.ms", name, 20), SL_ELIMIT);
}

static void test_env_overrides_file(void **state)
{
    (void)state;
    setenv("SLUICE_CFG_LOG_RETENTION_MS", "5", 1);
    setenv("SLUICE_CFG_LOG_DIRS", "/e1, /e2", 1);
    setenv("SLUICE_CFG_NUM_PARTITIONS", "4", 1);
    sl_config_t cfg;
    /* The file's bad num.partitions is never looked at: the environment replaces it. */
    test_load_ok(&cfg, "log.retention.ms: 10\nlog.dirs: [/f]\nnum.partitions: abc\nnode.id: 2\n");
    assert_int_equal(cfg.log_retention_ms, 5);
    assert_int_equal(cfg.log_dirs_count, 2);
    assert_string_equal(cfg.log_dirs[0], "/e1");
    assert_string_equal(cfg.log_dirs[1], "/e2");
    assert_int_equal(cfg.num_partitions, 4);
    assert_int_equal(cfg.node_id, 2);
    const sl_config_key_t *key = sl_config_key_find("log.retention.ms");
    assert_int_equal(sl_config_value_source(&cfg, key), SL_CONFIG_SOURCE_ENV);
    assert_false(sl_config_value_is_default(&cfg, key));
    assert_int_equal(sl_config_value_source(&cfg, sl_config_key_find("node.id")),
                     SL_CONFIG_SOURCE_FILE);
    sl_config_deinit(&cfg);
    /* Also without any file value. */
    test_load_ok(&cfg, "");
    assert_int_equal(cfg.log_retention_ms, 5);
    sl_config_deinit(&cfg);
    unsetenv("SLUICE_CFG_LOG_RETENTION_MS");
    unsetenv("SLUICE_CFG_LOG_DIRS");
    unsetenv("SLUICE_CFG_NUM_PARTITIONS");
}

static void test_env_errors(void **state)
{
    (void)state;
    setenv("SLUICE_CFG_NUM_PARTITIONS", "many", 1);
    test_expect_error("", "environment SLUICE_CFG_NUM_PARTITIONS: num.partitions: must be an "
                          "integer, got \"many\"");
    unsetenv("SLUICE_CFG_NUM_PARTITIONS");
    setenv("SLUICE_CFG_NUM_PARTITIONZ", "1", 1);
    test_expect_error("", "environment SLUICE_CFG_NUM_PARTITIONZ: unknown key \"num.partitionz\" "
                          "(did you mean \"num.partitions\"?)");
    unsetenv("SLUICE_CFG_NUM_PARTITIONZ");
    setenv("SLUICE_CFG_", "1", 1);
    test_expect_error("", "environment SLUICE_CFG_: not a configuration key name");
    unsetenv("SLUICE_CFG_");
    setenv("SLUICE_CFG_NODE_ID", "3", 1);
    setenv("SLUICE_CFG_node_id", "4", 1);
    sl_config_t cfg;
    char err[SL_CONFIG_ERR_BYTES];
    assert_int_equal(test_load(&cfg, "", err), SL_ECONFIG);
    assert_non_null(strstr(err, "node.id: also set by SLUICE_CFG_"));
    unsetenv("SLUICE_CFG_NODE_ID");
    unsetenv("SLUICE_CFG_node_id");
    /* A Kafka key in the environment only warns. */
    setenv("SLUICE_CFG_NUM_IO_THREADS", "8", 1);
    test_load_ok(&cfg, "");
    assert_int_equal(test_warnings_count(), 1);
    assert_string_equal(test_warning_key(0), "num.io.threads");
    sl_config_deinit(&cfg);
    unsetenv("SLUICE_CFG_NUM_IO_THREADS");
}

static void expand_ok(const char *in, const char *expected)
{
    char *out = NULL;
    char why[SL_CONFIG_ERR_BYTES];
    int rc = sl__config_expand(in, &out, why, sizeof(why));
    if (rc != 0)
        fail_msg("expanding \"%s\": %s", in, why);
    assert_string_equal(out, expected);
    sl_free(out);
}

static void expand_error(const char *in, const char *expected)
{
    char *out = NULL;
    char why[SL_CONFIG_ERR_BYTES];
    assert_int_equal(sl__config_expand(in, &out, why, sizeof(why)), SL_ECONFIG);
    assert_null(out);
    assert_string_equal(why, expected);
}

static void test_expand(void **state)
{
    (void)state;
    setenv("SL_T_POD", "sluice-0", 1);
    setenv("SL_T_EMPTY", "", 1);
    setenv("SL_T_DOLLAR", "${SL_T_POD}", 1);
    expand_ok("plain", "plain");
    expand_ok("", "");
    expand_ok("${SL_T_POD}", "sluice-0");
    expand_ok("PLAINTEXT://${SL_T_POD}.sluice.ns.svc:9092",
              "PLAINTEXT://sluice-0.sluice.ns.svc:9092");
    expand_ok("${SL_T_POD}${SL_T_POD}", "sluice-0sluice-0");
    expand_ok("a${SL_T_EMPTY}b", "ab");
    expand_ok("$$", "$");
    expand_ok("$${SL_T_POD}", "${SL_T_POD}");
    expand_ok("pa$$word", "pa$word");
    expand_ok("lone $ and $x", "lone $ and $x");
    expand_ok("end$", "end$");
    /* A substituted value is never expanded again. */
    expand_ok("${SL_T_DOLLAR}", "${SL_T_POD}");
    expand_error(
        "${SL_T_UNDEFINED_VAR}",
        "environment variable SL_T_UNDEFINED_VAR is not set (used as ${SL_T_UNDEFINED_VAR})");
    expand_error("${SL_T_POD", "unterminated ${ (write $$ for a literal dollar sign)");
    expand_error("${}", "invalid variable name in ${}");
    expand_error("${1A}", "invalid variable name in ${1A}");
    expand_error("${A-B}", "invalid variable name in ${A-B}");
    unsetenv("SL_T_POD");
    unsetenv("SL_T_EMPTY");
    unsetenv("SL_T_DOLLAR");
}

static void test_expand_bounded(void **state)
{
    (void)state;
    size_t big = SL_CONFIG_VALUE_BYTES_MAX / 4;
    char *value = malloc(big + 1);
    assert_non_null(value);
    memset(value, 'v', big);
    value[big] = '\0';
    setenv("SL_T_BIG", value, 1);
    free(value);
    expand_error("${SL_T_BIG}${SL_T_BIG}${SL_T_BIG}${SL_T_BIG}",
                 "value is longer than 65535 bytes after expansion");
    unsetenv("SL_T_BIG");
}

static void test_expand_in_config(void **state)
{
    (void)state;
    setenv("SL_T_POD", "sluice-1", 1);
    setenv("SL_T_ID", "7", 1);
    sl_config_t cfg;
    test_load_ok(&cfg, "node.id: ${SL_T_ID}\n"
                       "listeners: PLAINTEXT://:9092\n"
                       "advertised.listeners: PLAINTEXT://${SL_T_POD}.sluice:9092\n"
                       "log.dirs: ['/data/${SL_T_POD}', /x$$y]\n");
    assert_int_equal(cfg.node_id, 7);
    assert_string_equal(cfg.advertised_listeners[0].host, "sluice-1.sluice");
    assert_string_equal(cfg.log_dirs[0], "/data/sluice-1");
    assert_string_equal(cfg.log_dirs[1], "/x$y");
    sl_config_deinit(&cfg);
    test_expect_error("node.id: 1\nadvertised.listeners: PLAINTEXT://${SL_T_NOPE}:9092\n",
                      "t.yaml:2:23: advertised.listeners: environment variable SL_T_NOPE is not "
                      "set (used as ${SL_T_NOPE})");
    /* Overrides are expanded too. */
    setenv("SLUICE_CFG_LOG_DIR", "/var/${SL_T_POD}", 1);
    test_load_ok(&cfg, "");
    assert_string_equal(cfg.log_dirs[0], "/var/sluice-1");
    sl_config_deinit(&cfg);
    unsetenv("SLUICE_CFG_LOG_DIR");
    unsetenv("SL_T_POD");
    unsetenv("SL_T_ID");
}

int test_env_run(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_env_names), TEST(test_env_overrides_file), TEST(test_env_errors),
        TEST(test_expand),    TEST(test_expand_bounded),     TEST(test_expand_in_config),
    };
    return cmocka_run_group_tests_name("config/env", tests, NULL, NULL);
}
