/* Shared helpers of the config unit tests: load YAML text, expect an exact error line, capture
 * warnings, and check that every test gives back all the memory it took. */
#ifndef SLUICE_TEST_CONFIG_H
#define SLUICE_TEST_CONFIG_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/config_int.h"
#include "sluice/config.h"

/* Loads yaml as "t.yaml"; err receives SL_CONFIG_ERR_BYTES. */
int test_load(sl_config_t *cfg, const char *yaml, char *err);
/* Loads yaml and fails the test with the error line unless it loads. */
void test_load_ok(sl_config_t *cfg, const char *yaml);
/* Loads yaml, expects SL_ECONFIG with exactly this error line, and checks cfg owns nothing. */
void test_expect_error(const char *yaml, const char *expected);
/* Warnings seen by sl__config_warning_hook since the last test_warnings_reset(). */
void test_warnings_reset(void);
size_t test_warnings_count(void);
const char *test_warning_key(size_t index);
/* Per-test setup/teardown: record and compare sl_alloc_bytes_in_use(). */
int test_setup(void **state);
int test_teardown(void **state);

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)

int test_yaml_load_run(void);
int test_validate_run(void);
int test_env_run(void);
int test_listener_run(void);
int test_schema_run(void);
int test_kafka_keys_run(void);
int test_quorum_run(void);

#endif
