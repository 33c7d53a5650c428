/* Helpers shared by the config unit tests (see test_config.h). */
#include <stdio.h>

#include "test_config.h"

#define WARNINGS_MAX 64
static char warnings[WARNINGS_MAX][SL_CONFIG_NAME_BYTES_MAX];
static size_t warnings_count;
static size_t bytes_before;

static void warning_hook(const char *key, const char *where)
{
    (void)where;
    if (warnings_count < WARNINGS_MAX)
        snprintf(warnings[warnings_count++], sizeof(warnings[0]), "%s", key);
}

void test_warnings_reset(void)
{
    warnings_count = 0;
}

size_t test_warnings_count(void)
{
    return warnings_count;
}

const char *test_warning_key(size_t index)
{
    return index < warnings_count ? warnings[index] : NULL;
}

int test_setup(void **state)
{
    (void)state;
    sl__config_warning_hook = warning_hook;
    test_warnings_reset();
    bytes_before = sl_alloc_bytes_in_use();
    return 0;
}

int test_teardown(void **state)
{
    (void)state;
    sl__config_warning_hook = NULL;
    sl_alloc_fail_after(0);
    assert_int_equal(sl_alloc_bytes_in_use(), bytes_before);
    return 0;
}

int test_load(sl_config_t *cfg, const char *yaml, char *err)
{
    return sl_config_load_string(cfg, "t.yaml", yaml, strlen(yaml), err, SL_CONFIG_ERR_BYTES);
}

void test_load_ok(sl_config_t *cfg, const char *yaml)
{
    char err[SL_CONFIG_ERR_BYTES];
    int rc = test_load(cfg, yaml, err);
    if (rc != 0)
        fail_msg("load failed rc=%d: %s", rc, err);
}

void test_expect_error(const char *yaml, const char *expected)
{
    sl_config_t cfg;
    char err[SL_CONFIG_ERR_BYTES];
    int rc = test_load(&cfg, yaml, err);
    if (rc == 0) {
        sl_config_deinit(&cfg);
        fail_msg("expected error \"%s\", but the config loaded", expected);
    }
    assert_int_equal(rc, SL_ECONFIG);
    assert_string_equal(err, expected);
    /* A failed load owns nothing. */
    assert_null(cfg.log_dirs);
    assert_null(cfg.log_dir);
    sl_config_deinit(&cfg);
}
