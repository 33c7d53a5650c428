/* Tests for src/config/listener.c and the listener rules in load.c: NAME://host:port forms,
 * the security protocol map, PLAINTEXT-only for now, and advertised listeners. */
#include <stdio.h>

#include "test_config.h"

static void parse_ok(const char *text, const char *name, const char *host, uint16_t port)
{
    sl_listener_config_t l;
    char why[SL_CONFIG_ERR_BYTES];
    int rc = sl__config_listener_parse(text, &l, why, sizeof(why));
    if (rc != 0)
        fail_msg("%s: %s", text, why);
    assert_string_equal(l.name, name);
    assert_string_equal(l.host, host);
    assert_int_equal(l.port, port);
}

static void parse_error(const char *text, const char *expected)
{
    sl_listener_config_t l;
    char why[SL_CONFIG_ERR_BYTES];
    assert_int_equal(sl__config_listener_parse(text, &l, why, sizeof(why)), SL_ECONFIG);
    assert_string_equal(why, expected);
}

static void test_listener_forms(void **state)
{
    (void)state;
    parse_ok("PLAINTEXT://:9092", "PLAINTEXT", "", 9092);
    parse_ok("PLAINTEXT://0.0.0.0:9092", "PLAINTEXT", "0.0.0.0", 9092);
    parse_ok("plaintext://broker-0.sluice.default.svc:0", "PLAINTEXT",
             "broker-0.sluice.default.svc", 0);
    parse_ok("INTERNAL://[::1]:65535", "INTERNAL", "::1", 65535);
    parse_ok("EXT_1://[fe80::1%eth0]:9093", "EXT_1", "fe80::1%eth0", 9093);
    parse_ok("A://[::]:1", "A", "::", 1);
    parse_error("localhost:9092", "listener \"localhost:9092\" must look like NAME://host:port");
    parse_error("PLAINTEXT://host",
                "listener \"PLAINTEXT://host\" must look like NAME://host:port");
    parse_error("PLAINTEXT://host:",
                "listener \"PLAINTEXT://host:\": port must be between 0 and 65535, got \"\"");
    parse_error(
        "PLAINTEXT://host:65536",
        "listener \"PLAINTEXT://host:65536\": port must be between 0 and 65535, got \"65536\"");
    parse_error("PLAINTEXT://host:-1",
                "listener \"PLAINTEXT://host:-1\": port must be between 0 and 65535, got \"-1\"");
    parse_error("PLAINTEXT://host:99999999999",
                "listener \"PLAINTEXT://host:99999999999\": port must be between 0 and 65535, got "
                "\"99999999999\"");
    parse_error("PLAINTEXT://::1:9092",
                "listener \"PLAINTEXT://::1:9092\": an IPv6 host must be in brackets, like [::1]");
    parse_error("PLAINTEXT://[::1:9092",
                "listener \"PLAINTEXT://[::1:9092\": expected [ipv6-address]:port");
    parse_error("PLAINTEXT://[::1]9092",
                "listener \"PLAINTEXT://[::1]9092\": expected [ipv6-address]:port");
    parse_error("PLAINTEXT://[]:9092", "listener \"PLAINTEXT://[]:9092\": bad host length");
    parse_error("PLAINTEXT://a b:1",
                "listener \"PLAINTEXT://a b:1\": invalid character ' ' in host");
    parse_error("://h:1", "listener name \"\" must be 1 to 63 characters");
    parse_error("PLAIN TEXT://h:1",
                "listener name \"PLAIN TEXT\" may only hold letters, digits, '_' and '-'");
}

static void test_listeners_in_config(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "listeners: [PLAINTEXT://127.0.0.1:0, 'INTERNAL://[::1]:9093']\n"
                       "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,INTERNAL:plaintext\n");
    assert_int_equal(cfg.listeners_count, 2);
    assert_string_equal(cfg.listeners[1].name, "INTERNAL");
    assert_int_equal(cfg.listeners[1].security, SL_SECURITY_PLAINTEXT);
    /* advertised.listeners defaults to listeners. */
    assert_int_equal(cfg.advertised_listeners_count, 2);
    assert_string_equal(cfg.advertised_listeners[0].host, "127.0.0.1");
    assert_string_equal(cfg.advertised_listeners[1].host, "::1");
    char text[256];
    const sl_config_key_t *key = sl_config_key_find("listeners");
    assert_int_equal(sl_config_value_text(&cfg, key, text, sizeof(text)), 0);
    assert_string_equal(text, "PLAINTEXT://127.0.0.1:0,INTERNAL://[::1]:9093");
    key = sl_config_key_find("advertised.listeners");
    assert_int_equal(sl_config_value_text(&cfg, key, text, sizeof(text)), SL_ENOTFOUND);
    sl_config_deinit(&cfg);

    test_load_ok(&cfg, "listeners: PLAINTEXT://:9092\n"
                       "advertised.listeners: plaintext://broker-0.example:19092\n");
    assert_int_equal(cfg.advertised_listeners_count, 1);
    assert_string_equal(cfg.advertised_listeners[0].name, "PLAINTEXT");
    assert_string_equal(cfg.advertised_listeners[0].host, "broker-0.example");
    assert_int_equal(cfg.advertised_listeners[0].port, 19092);
    assert_int_equal(cfg.advertised_listeners[0].security, SL_SECURITY_PLAINTEXT);
    sl_config_deinit(&cfg);
}

static void test_listener_errors(void **state)
{
    (void)state;
    test_expect_error("listeners: SSL://:9093\n",
                      "t.yaml:1:12: listeners: listener \"SSL\" uses SSL, which is not implemented "
                      "yet (only PLAINTEXT is)");
    test_expect_error("listeners: SASL_PLAINTEXT://:9093\n",
                      "t.yaml:1:12: listeners: listener \"SASL_PLAINTEXT\" uses SASL_PLAINTEXT, "
                      "which is not implemented yet (only PLAINTEXT is)");
    test_expect_error("listeners: INTERNAL://:9093\n",
                      "t.yaml:1:12: listeners: listener name \"INTERNAL\" is not in "
                      "listener.security.protocol.map");
    test_expect_error("listeners: [PLAINTEXT://:9092, PLAINTEXT://:9093]\n",
                      "t.yaml:1:12: listeners: listener name \"PLAINTEXT\" is used twice");
    test_expect_error("listeners: [PLAINTEXT://:9092, A://:9092]\n"
                      "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,A:PLAINTEXT\n",
                      "t.yaml:1:12: listeners: listeners \"PLAINTEXT\" and \"A\" use the same port "
                      "9092");
    test_expect_error("listeners: PLAINTEXT://:9092\nadvertised.listeners: EXTERNAL://x:1\n",
                      "t.yaml:2:23: advertised.listeners: listener name \"EXTERNAL\" is not among "
                      "listeners");
    test_expect_error("listeners: PLAINTEXT://:9092\n"
                      "advertised.listeners: PLAINTEXT://x:1,PLAINTEXT://y:2\n",
                      "t.yaml:2:23: advertised.listeners: listener name \"PLAINTEXT\" is "
                      "advertised twice");
    test_expect_error("listener.security.protocol.map: PLAINTEXT:TLS\n",
                      "t.yaml:1:33: listener.security.protocol.map: \"TLS\" is not a security "
                      "protocol (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)");
    test_expect_error("listener.security.protocol.map: PLAINTEXT\n",
                      "t.yaml:1:33: listener.security.protocol.map: \"PLAINTEXT\" must look like "
                      "NAME:PROTOCOL");
    test_expect_error("listener.security.protocol.map: PLAINTEXT:PLAINTEXT,plaintext:SSL\n",
                      "t.yaml:1:33: listener.security.protocol.map: listener name \"PLAINTEXT\" "
                      "is mapped twice");
    test_expect_error("listeners: PLAINTEXT://:9092\nlistener.security.protocol.map: A:PLAINTEXT\n",
                      "t.yaml:1:12: listeners: listener name \"PLAINTEXT\" is not in "
                      "listener.security.protocol.map");
    test_expect_error("listeners: PLAINTEXT://h:70000\n",
                      "t.yaml:1:12: listeners: listener \"PLAINTEXT://h:70000\": port must be "
                      "between 0 and 65535, got \"70000\"");
    /* More listeners than SL_LISTENERS_MAX. */
    char yaml[2048];
    size_t pos = (size_t)snprintf(yaml, sizeof(yaml), "listeners: ");
    for (int i = 0; i <= SL_LISTENERS_MAX; i++)
        pos += (size_t)snprintf(yaml + pos, sizeof(yaml) - pos, "%sL%d://:%d", i ? "," : "", i,
                                1000 + i);
    snprintf(yaml + pos, sizeof(yaml) - pos, "\n");
    test_expect_error(yaml, "t.yaml:1:12: listeners: a list may hold at most 16 items");
}

int test_listener_run(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_listener_forms),
        TEST(test_listeners_in_config),
        TEST(test_listener_errors),
    };
    return cmocka_run_group_tests_name("config/listener", tests, NULL, NULL);
}
