/* Tests for src/config/yaml_load.c: flattening, list forms, YAML errors with line:column,
 * duplicates, the shape of the document, aliases, and the nesting/size bounds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_config.h"

static void test_flat_and_nested_forms_agree(void **state)
{
    (void)state;
    const char *forms[] = {
        "log.retention.ms: 5\n",           "log:\n  retention.ms: 5\n",
        "log:\n  retention:\n    ms: 5\n", "log: {retention: {ms: 5}}\n",
        "log.retention: {ms: 5}\n",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(forms); i++) {
        sl_config_t cfg;
        test_load_ok(&cfg, forms[i]);
        assert_int_equal(cfg.log_retention_ms, 5);
        assert_int_equal(sl_config_value_source(&cfg, sl_config_key_find("log.retention.ms")),
                         SL_CONFIG_SOURCE_FILE);
        sl_config_deinit(&cfg);
    }
}

static void test_nested_siblings(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "log:\n"
                       "  segment.bytes: 1000\n"
                       "  retention:\n"
                       "    bytes: 77\n"
                       "    check.interval.ms: 9\n"
                       "  dirs: /a\n"
                       "num.partitions: 3\n");
    assert_int_equal(cfg.log_segment_bytes, 1000);
    assert_int_equal(cfg.log_retention_bytes, 77);
    assert_int_equal(cfg.log_retention_check_interval_ms, 9);
    assert_int_equal(cfg.log_dirs_count, 1);
    assert_string_equal(cfg.log_dirs[0], "/a");
    assert_int_equal(cfg.num_partitions, 3);
    sl_config_deinit(&cfg);
}

static void test_list_forms(void **state)
{
    (void)state;
    const char *forms[] = {
        "log.dirs: [/a, /b, /c]\n",
        "log.dirs:\n  - /a\n  - /b\n  - /c\n",
        "log.dirs: /a,/b,/c\n",
        "log.dirs: ' /a , /b,/c '\n",
        "log:\n  dirs:\n  - /a\n  - \"/b\"\n  - /c\n",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(forms); i++) {
        sl_config_t cfg;
        test_load_ok(&cfg, forms[i]);
        assert_int_equal(cfg.log_dirs_count, 3);
        assert_string_equal(cfg.log_dirs[0], "/a");
        assert_string_equal(cfg.log_dirs[1], "/b");
        assert_string_equal(cfg.log_dirs[2], "/c");
        sl_config_deinit(&cfg);
    }
}

static void test_empty_documents_mean_defaults(void **state)
{
    (void)state;
    const char *forms[] = {"", "\n\n", "# only a comment\n", "~\n", "---\n", "---\n...\n", "{}\n"};
    for (size_t i = 0; i < SL_ARRAY_LEN(forms); i++) {
        sl_config_t cfg;
        test_load_ok(&cfg, forms[i]);
        assert_int_equal(cfg.node_id, 1);
        assert_string_equal(cfg.log_dirs[0], "/tmp/kafka-logs");
        sl_config_deinit(&cfg);
    }
}

static void test_malformed_yaml(void **state)
{
    (void)state;
    test_expect_error("a: b: c\n", "t.yaml:1:5: mapping values are not allowed in this context");
    test_expect_error("num.partitions: 1\n\tnode.id: 2\n",
                      "t.yaml:2:1: found a tab character that violates indentation while "
                      "scanning a plain scalar (started at 1:17)");
    test_expect_error("log.dirs: [/a, /b\n",
                      "t.yaml:2:1: did not find expected ',' or ']' while parsing a flow "
                      "sequence (started at 1:11)");
    test_expect_error("log.dir: \"abc\n",
                      "t.yaml:2:1: found unexpected end of stream while scanning a quoted scalar "
                      "(started at 1:10)");
    test_expect_error("node.id: 1\nlog.dir: \xff\xfe\n",
                      "t.yaml:2:10: invalid leading UTF-8 octet");
}

static void test_document_shape(void **state)
{
    (void)state;
    test_expect_error("- node.id: 1\n- num.partitions: 2\n",
                      "t.yaml:1:1: the top level must be a mapping of keys to values, got a list");
    test_expect_error(
        "hello\n", "t.yaml:1:1: the top level must be a mapping of keys to values, got a scalar");
    test_expect_error("node.id: 1\n---\nnode.id: 2\n",
                      "t.yaml:2:1: only one YAML document is allowed");
    test_expect_error("? [a, b]\n: 1\n", "t.yaml:1:3: a key must be a plain value");
    test_expect_error("\"\": 1\n", "t.yaml:1:1: empty key");
    test_expect_error("log.dirs: [[/a]]\n",
                      "t.yaml:1:12: log.dirs: list items must be plain values");
    test_expect_error("log.dirs: [{a: 1}]\n",
                      "t.yaml:1:12: log.dirs: list items must be plain values");
}

static void test_duplicates(void **state)
{
    (void)state;
    test_expect_error("num.partitions: 1\nnum.partitions: 2\n",
                      "t.yaml:2:1: num.partitions: duplicate key (first set at 1:1)");
    test_expect_error("log.retention.ms: 1\nlog:\n  retention.ms: 2\n",
                      "t.yaml:3:3: log.retention.ms: duplicate key (first set at 1:1)");
    test_expect_error("log:\n  retention:\n    ms: 1\nlog.retention: {ms: 2}\n",
                      "t.yaml:4:17: log.retention.ms: duplicate key (first set at 3:5)");
}

static void test_aliases_rejected(void **state)
{
    (void)state;
    test_expect_error("a: &x 1\nnum.partitions: *x\n",
                      "t.yaml:2:17: alias *x is not supported; write the value out in full");
    test_expect_error("base: &b {num.partitions: 2}\nother:\n  <<: *b\n",
                      "t.yaml:3:7: alias *b is not supported; write the value out in full");
    test_expect_error("log.dirs: [&d /a, *d]\n",
                      "t.yaml:1:19: alias *d is not supported; write the value out in full");
    /* An anchor that nothing refers to is harmless. */
    sl_config_t cfg;
    test_load_ok(&cfg, "num.partitions: &n 4\n");
    assert_int_equal(cfg.num_partitions, 4);
    sl_config_deinit(&cfg);
}

/* depth nested mappings "a: {a: {... {num.partitions: 2}}}" in block style. */
static char *nested_yaml(size_t depth)
{
    size_t cap = depth * (depth + 8) + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t pos = 0;
    for (size_t i = 0; i < depth; i++)
        pos += (size_t)snprintf(text + pos, cap - pos, "%*sa:\n", (int)(i * 2), "");
    snprintf(text + pos, cap - pos, "%*sx: 1\n", (int)(depth * 2), "");
    return text;
}

static void test_deep_nesting_bounded(void **state)
{
    (void)state;
    char err[SL_CONFIG_ERR_BYTES];
    sl_config_t cfg;
    /* 16 levels below the top is allowed (the key is unknown, but it was read). */
    char *ok = nested_yaml(SL_CONFIG_DEPTH_MAX);
    assert_int_equal(test_load(&cfg, ok, err), SL_ECONFIG);
    assert_non_null(strstr(err, "unknown key \"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.x\""));
    free(ok);
    sl_config_deinit(&cfg);
    char *deep = nested_yaml(SL_CONFIG_DEPTH_MAX + 1);
    assert_int_equal(test_load(&cfg, deep, err), SL_ECONFIG);
    assert_string_equal(err, "t.yaml:18:35: mappings are nested deeper than 16 levels");
    free(deep);
    /* Very deep flow nesting: no recursion anywhere, so this is just an error. */
    size_t n = 100000;
    char *flow = malloc(2 * n + 16);
    assert_non_null(flow);
    memcpy(flow, "a: ", 3);
    memset(flow + 3, '[', n);
    memset(flow + 3 + n, ']', n);
    flow[3 + 2 * n] = '\0';
    assert_int_equal(test_load(&cfg, flow, err), SL_ECONFIG);
    assert_string_equal(err, "t.yaml:1:5: a: list items must be plain values");
    memset(flow + 3, '{', n);
    memset(flow + 3 + n, '}', n);
    assert_int_equal(test_load(&cfg, flow, err), SL_ECONFIG);
    assert_non_null(strstr(err, "a key must be a plain value"));
    free(flow);
}

static void test_entry_and_name_bounds(void **state)
{
    (void)state;
    char err[SL_CONFIG_ERR_BYTES];
    sl_config_t cfg;
    size_t cap = (SL_CONFIG_ENTRIES_MAX + 1) * 32;
    char *many = malloc(cap);
    assert_non_null(many);
    size_t pos = 0;
    for (int i = 0; i <= SL_CONFIG_ENTRIES_MAX; i++)
        pos += (size_t)snprintf(many + pos, cap - pos, "k%d: 1\n", i);
    assert_int_equal(test_load(&cfg, many, err), SL_ECONFIG);
    assert_string_equal(err, "t.yaml:1025:1: more than 1024 keys");
    free(many);

    char longkey[SL_CONFIG_NAME_BYTES_MAX + 8];
    memset(longkey, 'k', SL_CONFIG_NAME_BYTES_MAX);
    memcpy(longkey + SL_CONFIG_NAME_BYTES_MAX, ": 1", 4);
    assert_int_equal(test_load(&cfg, longkey, err), SL_ECONFIG);
    assert_string_equal(err, "t.yaml:1:1: key is longer than 255 bytes");

    assert_int_equal(test_load(&cfg, "log.dir: \"a\\0b\"\n", err), SL_ECONFIG);
    assert_string_equal(err, "t.yaml:1:10: a value must not contain a NUL character");
    assert_int_equal(test_load(&cfg, "\"a\\0b\": 1\n", err), SL_ECONFIG);
    assert_string_equal(err, "t.yaml:1:1: a key must not contain a NUL character");
}

static void test_null_values(void **state)
{
    (void)state;
    test_expect_error(
        "num.partitions:\n",
        "t.yaml:1:16: num.partitions: has no value (remove the key to use the default)");
    test_expect_error(
        "num.partitions: ~\n",
        "t.yaml:1:17: num.partitions: has no value (remove the key to use the default)");
    test_expect_error("log.dir: null\n",
                      "t.yaml:1:10: log.dir: has no value (remove the key to use the default)");
    /* A quoted empty string is a value, and an empty one for this key. */
    test_expect_error("log.dir: \"\"\n", "t.yaml:1:10: log.dir: must not be empty");
}

static void test_file_errors(void **state)
{
    (void)state;
    sl_config_t cfg;
    char err[SL_CONFIG_ERR_BYTES];
    int rc = sl_config_load_file(&cfg, "/nonexistent/sluice.yaml", err, sizeof(err));
    assert_int_equal(rc, -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/sluice.yaml: cannot open: "));
    sl_config_deinit(&cfg);
    rc = sl_config_load_file(&cfg, "/", err, sizeof(err));
    assert_int_equal(rc, -EISDIR);
    assert_non_null(strstr(err, "/: cannot read: "));
    sl_config_deinit(&cfg);

    char path[] = "/tmp/sl_config_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "num.partitions: 7\nlog.segment.bytes: 3\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    rc = sl_config_load_file(&cfg, path, err, sizeof(err));
    assert_int_equal(rc, SL_ECONFIG);
    char expected[SL_CONFIG_ERR_BYTES];
    snprintf(expected, sizeof(expected),
             "%s:2:20: log.segment.bytes: must be between 14 and 2147483647, got 3", path);
    assert_string_equal(err, expected);
    sl_config_deinit(&cfg);

    /* Too big: refused before parsing. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < SL_CONFIG_FILE_BYTES_MAX / 16 + 1; i++)
        fputs("# padding......\n", f); /* 16 bytes */
    fclose(f);
    rc = sl_config_load_file(&cfg, path, err, sizeof(err));
    assert_int_equal(rc, SL_ECONFIG);
    assert_non_null(strstr(err, "file is larger than 1048576 bytes"));
    sl_config_deinit(&cfg);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("num.partitions: 7\n", f);
    fclose(f);
    assert_int_equal(sl_config_load_file(&cfg, path, err, sizeof(err)), 0);
    assert_int_equal(cfg.num_partitions, 7);
    sl_config_deinit(&cfg);
    unlink(path);
}

static void test_checked_in_config_loads(void **state)
{
    (void)state;
    const char *src = getenv("SL_SOURCE_DIR");
    if (src == NULL)
        skip();
    char path[4096];
    snprintf(path, sizeof(path), "%s/config/sluice.yaml", src);
    sl_config_t cfg;
    char err[SL_CONFIG_ERR_BYTES];
    int rc = sl_config_load_file(&cfg, path, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.node_id, 1);
    assert_string_equal(cfg.log_dirs[0], "./var/data");
    assert_int_equal(cfg.listeners_count, 1);
    assert_string_equal(cfg.listeners[0].host, "127.0.0.1");
    assert_int_equal(cfg.listeners[0].port, 9092);
    assert_true(cfg.auto_create_topics_enable);
    sl_config_deinit(&cfg);
}

int test_yaml_load_run(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_flat_and_nested_forms_agree),
        TEST(test_nested_siblings),
        TEST(test_list_forms),
        TEST(test_empty_documents_mean_defaults),
        TEST(test_malformed_yaml),
        TEST(test_document_shape),
        TEST(test_duplicates),
        TEST(test_aliases_rejected),
        TEST(test_deep_nesting_bounded),
        TEST(test_entry_and_name_bounds),
        TEST(test_null_values),
        TEST(test_file_errors),
        TEST(test_checked_in_config_loads),
    };
    return cmocka_run_group_tests_name("config/yaml_load", tests, NULL, NULL);
}
