/* Unit tests for src/cli/args.c: commands and subcommands, options before and after names,
 * --opt=value, defaults (SLUICE_BOOTSTRAP, localhost:9092, -1 partitions), and every usage error
 * naming what was wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_int.h"
#include "cli_tests.h"

static char err[256];

#define PARSE(env, out, ...)                                                                       \
    parse_argv((env), (out), (char *const[]){"sluice", __VA_ARGS__, NULL},                         \
               (int)(sizeof((const char *[]){"sluice", __VA_ARGS__}) / sizeof(char *)))

static int parse_argv(const char *env, sl_cli_args_t *out, char *const *argv, int argc)
{
    return sl__cli_args_parse(argc, argv, env, out, err, sizeof err);
}

static void test_create_full(void **state)
{
    (void)state;
    sl_cli_args_t a;
    assert_int_equal(PARSE(NULL, &a, "topic", "create", "orders", "--partitions", "6",
                           "--replication-factor=3", "--config", "retention.ms=1000", "--config",
                           "cleanup.policy=compact", "--if-not-exists", "--output", "json",
                           "--timeout", "2s"),
                     0);
    assert_int_equal(a.command, SL_CLI_TOPIC_CREATE);
    assert_int_equal(a.positional_count, 1);
    assert_string_equal(a.positionals[0], "orders");
    assert_int_equal(a.partitions, 6);
    assert_int_equal(a.replication_factor, 3);
    assert_int_equal(a.config_count, 2);
    assert_int_equal(a.configs[0].name_len, strlen("retention.ms"));
    assert_memory_equal(a.configs[0].name, "retention.ms", a.configs[0].name_len);
    assert_string_equal(a.configs[0].value, "1000");
    assert_string_equal(a.configs[1].value, "compact");
    assert_true(a.if_not_exists);
    assert_false(a.validate_only);
    assert_int_equal(a.output, SL_CLI_OUTPUT_JSON);
    assert_int_equal(a.timeout_ms, 2000);
    /* the default bootstrap */
    assert_int_equal(a.bootstrap_count, 1);
    assert_string_equal(a.bootstrap[0].host, "localhost");
    assert_int_equal(a.bootstrap[0].port, 9092);
}

static void test_defaults_and_env(void **state)
{
    (void)state;
    sl_cli_args_t a;
    assert_int_equal(PARSE("b1:9093,[::1]:9094", &a, "topic", "create", "t"), 0);
    assert_int_equal(a.partitions, -1); /* the broker's num.partitions, as kafka-topics sends */
    assert_int_equal(a.replication_factor, -1);
    assert_int_equal(a.timeout_ms, SL_CLI_TIMEOUT_MS_DEFAULT);
    assert_int_equal(a.output, SL_CLI_OUTPUT_TABLE);
    assert_int_equal(a.bootstrap_count, 2);
    assert_string_equal(a.bootstrap[0].host, "b1");
    assert_int_equal(a.bootstrap[0].port, 9093);
    assert_string_equal(a.bootstrap[1].host, "::1");
    assert_int_equal(a.bootstrap[1].port, 9094);
    /* --bootstrap-server wins over the environment, wherever it stands */
    assert_int_equal(PARSE("b1:9093", &a, "topic", "list", "--bootstrap-server", "x:1"), 0);
    assert_int_equal(a.bootstrap_count, 1);
    assert_string_equal(a.bootstrap[0].host, "x");
    assert_int_equal(a.bootstrap[0].port, 1);
}

static void test_commands(void **state)
{
    (void)state;
    sl_cli_args_t a;
    assert_int_equal(PARSE(NULL, &a, "topic", "describe"), 0);
    assert_int_equal(a.command, SL_CLI_TOPIC_DESCRIBE);
    assert_int_equal(a.positional_count, 0);
    assert_int_equal(PARSE(NULL, &a, "topic", "delete", "a", "b", "--if-exists"), 0);
    assert_int_equal(a.command, SL_CLI_TOPIC_DELETE);
    assert_int_equal(a.positional_count, 2);
    assert_true(a.if_exists);
    assert_int_equal(PARSE(NULL, &a, "topic", "alter-config", "t", "--set", "a=b", "--delete", "c"),
                     0);
    assert_int_equal(a.config_count, 2);
    assert_string_equal(a.configs[0].value, "b");
    assert_null(a.configs[1].value);
    assert_int_equal(PARSE(NULL, &a, "group", "describe", "g1"), 0);
    assert_int_equal(a.command, SL_CLI_GROUP_DESCRIBE);
    assert_int_equal(PARSE(NULL, &a, "cluster", "describe"), 0);
    assert_int_equal(a.command, SL_CLI_CLUSTER_DESCRIBE);
    assert_int_equal(PARSE(NULL, &a, "produce", "t", "--key-separator", ":", "--acks", "all",
                           "--partition", "2"),
                     0);
    assert_int_equal(a.command, SL_CLI_PRODUCE);
    assert_string_equal(a.key_separator, ":");
    assert_int_equal(a.acks, -1);
    assert_int_equal(a.partition, 2);
    assert_int_equal(PARSE(NULL, &a, "consume", "--from-beginning", "t", "--group", "g",
                           "--max-messages", "10", "--print-keys", "--timeout", "1500"),
                     0);
    assert_int_equal(a.command, SL_CLI_CONSUME);
    assert_string_equal(a.positionals[0], "t");
    assert_true(a.from_beginning && a.print_keys && a.timeout_given);
    assert_int_equal(a.max_messages, 10);
    assert_int_equal(a.timeout_ms, 1500);
    /* "--" ends the options: a name may then start with a dash */
    assert_int_equal(PARSE(NULL, &a, "topic", "delete", "--", "-odd"), 0);
    assert_string_equal(a.positionals[0], "-odd");
    assert_true(sl_cli_is_command("topic"));
    assert_false(sl_cli_is_command("serve"));
}

/* Each case: the argv after "sluice", and a piece of the message. */
static void expect_usage(const char *needle, int rc)
{
    assert_int_equal(rc, SL_CLI_EXIT_USAGE);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_usage_errors(void **state)
{
    (void)state;
    sl_cli_args_t a;
    expect_usage("unknown command", PARSE(NULL, &a, "topics", "list"));
    expect_usage("unknown command", PARSE(NULL, &a, "topic", "frobnicate"));
    expect_usage("missing NAME", PARSE(NULL, &a, "topic", "create"));
    expect_usage("unexpected argument \"b\"", PARSE(NULL, &a, "topic", "create", "a", "b"));
    expect_usage("unknown option", PARSE(NULL, &a, "topic", "list", "--bogus"));
    expect_usage("--partitions does not apply",
                 PARSE(NULL, &a, "topic", "list", "--partitions", "3"));
    expect_usage("--partitions wants",
                 PARSE(NULL, &a, "topic", "create", "t", "--partitions", "0"));
    expect_usage("--partitions wants",
                 PARSE(NULL, &a, "topic", "create", "t", "--partitions", "3x"));
    expect_usage("needs a value", PARSE(NULL, &a, "topic", "create", "t", "--partitions"));
    expect_usage("key=value", PARSE(NULL, &a, "topic", "create", "t", "--config", "novalue"));
    expect_usage("key=value", PARSE(NULL, &a, "topic", "create", "t", "--config", "=v"));
    expect_usage("takes no value", PARSE(NULL, &a, "topic", "create", "t", "--if-not-exists=1"));
    expect_usage("table or json", PARSE(NULL, &a, "topic", "list", "--output", "yaml"));
    expect_usage("--timeout", PARSE(NULL, &a, "topic", "list", "--timeout", "soon"));
    expect_usage("--timeout", PARSE(NULL, &a, "topic", "list", "--timeout", "0"));
    expect_usage("needs --set", PARSE(NULL, &a, "topic", "alter-config", "t"));
    expect_usage("config name", PARSE(NULL, &a, "topic", "alter-config", "t", "--delete", "a=b"));
    expect_usage("--acks", PARSE(NULL, &a, "produce", "t", "--acks", "2"));
    expect_usage("host:port", PARSE(NULL, &a, "topic", "list", "--bootstrap-server", "nohost"));
    expect_usage("bad port", PARSE(NULL, &a, "topic", "list", "--bootstrap-server", "h:99999"));
    expect_usage("empty", PARSE(NULL, &a, "topic", "list", "--bootstrap-server", ","));
    expect_usage("SLUICE_BOOTSTRAP", PARSE("h:x", &a, "topic", "list"));
    expect_usage("missing GROUP", PARSE(NULL, &a, "group", "describe"));
    expect_usage("--from-beginning does not apply",
                 PARSE(NULL, &a, "produce", "t", "--from-beginning"));
}

int run_args_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_full),
        cmocka_unit_test(test_defaults_and_env),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests_name("cli_args", tests, NULL, NULL);
}
