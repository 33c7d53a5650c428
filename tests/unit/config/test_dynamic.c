/* Tests for src/config/dynamic.c: the deep copy, Kafka's checks of a broker value set at run
 * time, and the effective configuration rebuilt from the static one and two dynamic layers
 * (precedence, sources, revert on delete, read-only memory untouched). Its own binary
 * (test_config_dynamic), sharing test_support.c's leak check with the config tests. */
#include <stdio.h>
#include <stdlib.h>

#include "test_config.h"

static void check_value(const char *name, const char *value, const char *want)
{
    char err[512] = "";
    int rc = sl_config_value_check(sl_config_key_find(name), value, err, sizeof(err));
    if (want == NULL && rc != 0)
        fail_msg("%s=%s refused: %s", name, value, err);
    if (want != NULL && (rc != SL_ECONFIG || strcmp(err, want) != 0))
        fail_msg("%s=%s: rc %d \"%s\", want \"%s\"", name, value, rc, err, want);
}

/* Texts checked against Kafka 4.0.0's IncrementalAlterConfigs on a broker resource. */
static void test_check(void **state)
{
    (void)state;
    check_value("log.retention.ms", "abc",
                "Invalid value abc for configuration log.retention.ms: Not a number of type LONG");
    check_value("message.max.bytes", "-5",
                "Invalid value -5 for configuration message.max.bytes: Value must be at least 0");
    check_value("log.cleanup.policy", "foo",
                "Invalid value foo for configuration log.cleanup.policy: String must be one of: "
                "compact, delete");
    check_value("log.preallocate", "yes",
                "Invalid value yes for configuration log.preallocate: Expected value to be "
                "either true or false");
    check_value("log.retention.ms", " 5000 ", NULL);
    check_value("log.preallocate", "TRUE", NULL);
    check_value("log.cleanup.policy", "compact, delete", NULL);
    check_value("listeners", "PLAINTEXT://:1", NULL);
    assert_true(sl_config_key_runtime_dynamic(sl_config_key_find("log.retention.ms")));
    assert_true(sl_config_key_runtime_dynamic(sl_config_key_find("log.level")));
    assert_false(sl_config_key_runtime_dynamic(sl_config_key_find("listeners")));
    assert_false(sl_config_key_runtime_dynamic(sl_config_key_find("num.partitions")));
    assert_false(sl_config_key_runtime_dynamic(sl_config_key_find("storage.sync.policy")));
}

static void test_layers(void **state)
{
    (void)state;
    sl_config_t st, eff;
    test_load_ok(&st, "log.dirs: [/a, /b]\nlog.retention.hours: 2\nmessage.max.bytes: 5000\n");
    assert_int_equal(sl_config_copy(&eff, &st), 0);
    assert_ptr_not_equal(eff.log_dirs, st.log_dirs);
    char **dirs = eff.log_dirs;
    const char *cn[] = {"log.retention.ms", "message.max.bytes", "foo.bar", "log.cleanup.policy"};
    const char *cv[] = {"7000", "6000", "x", "compact,delete"};
    const char *bn[] = {"log.retention.ms"};
    const char *bv[] = {" 5000 "};
    sl_config_layer_t cluster = {cn, cv, 4}, broker = {bn, bv, 1};
    char err[SL_CONFIG_ERR_BYTES];
    assert_int_equal(sl_config_dynamic_apply(&eff, &st, &cluster, &broker, err, sizeof(err)), 0);
    const sl_config_key_t *ms = sl_config_key_find("log.retention.ms");
    const sl_config_key_t *mmb = sl_config_key_find("message.max.bytes");
    assert_int_equal(eff.log_retention_ms, 5000);
    assert_int_equal(sl_config_value_source(&eff, ms), SL_CONFIG_SOURCE_DYNAMIC_BROKER);
    assert_int_equal(eff.message_max_bytes, 6000);
    assert_int_equal(sl_config_value_source(&eff, mmb), SL_CONFIG_SOURCE_DYNAMIC_DEFAULT);
    assert_int_equal(eff.log_cleanup_policy_count, 2);
    assert_ptr_equal(eff.log_dirs, dirs); /* read-only keys never move */
    /* Deleting goes back a layer, then to the static value and its source. */
    broker.count = 0;
    cluster.count = 1;
    assert_int_equal(sl_config_dynamic_apply(&eff, &st, &cluster, &broker, err, sizeof(err)), 0);
    assert_int_equal(eff.log_retention_ms, 7000);
    assert_int_equal(sl_config_value_source(&eff, ms), SL_CONFIG_SOURCE_DYNAMIC_DEFAULT);
    assert_int_equal(eff.message_max_bytes, 5000);
    assert_int_equal(sl_config_value_source(&eff, mmb), SL_CONFIG_SOURCE_FILE);
    assert_int_equal(eff.log_cleanup_policy_count, 1);
    cluster.count = 0;
    assert_int_equal(sl_config_dynamic_apply(&eff, &st, &cluster, &broker, err, sizeof(err)), 0);
    assert_int_equal(eff.log_retention_ms, 2 * 3600000);
    assert_int_equal(sl_config_value_source(&eff, ms), SL_CONFIG_SOURCE_DEFAULT);
    /* What the typed setter still refuses comes back as an error with the reason. */
    const char *en[] = {"log.cleanup.policy"};
    const char *ev[] = {""};
    sl_config_layer_t empty = {en, ev, 1};
    assert_int_equal(sl_config_dynamic_apply(&eff, &st, &empty, &broker, err, sizeof(err)),
                     SL_ECONFIG);
    assert_string_equal(err, "Invalid value  for configuration log.cleanup.policy: must not be "
                             "empty");
    sl_config_deinit(&eff);
    sl_config_deinit(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {TEST(test_check), TEST(test_layers)};
    return cmocka_run_group_tests_name("config/dynamic", tests, NULL, NULL);
}
