/* Tests for the cluster keys (KRaft's names): process.roles, controller.quorum.voters and its
 * parsed form, controller.listener.names and the listener rules it brings, inter.broker.listener.
 * name, the refused dynamic quorum key, the environment overrides, and the defaults that keep a
 * node without voters exactly the single-node broker it always was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_config.h"

/* The combined node 1 of a three-voter quorum, as the Helm chart writes it. */
#define VOTER_1                                                                                    \
    "node.id: 1\n"                                                                                 \
    "listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n"                                            \
    "controller.quorum.voters: 1@a.sluice:9093,2@b.sluice:9093,3@b.sluice:9094\n"

static void test_defaults_are_a_single_node(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "");
    assert_int_equal(cfg.process_roles_count, 2);
    assert_string_equal(cfg.process_roles[0], "broker");
    assert_string_equal(cfg.process_roles[1], "controller");
    assert_true(cfg.process_role_broker && cfg.process_role_controller);
    assert_int_equal(cfg.quorum_voter_count, 0);
    assert_int_equal(cfg.controller_listener_names_count, 1);
    assert_string_equal(cfg.controller_listener_names[0], "CONTROLLER");
    assert_string_equal(cfg.inter_broker_listener_name, "PLAINTEXT");
    assert_int_equal(cfg.advertised_listeners_count, 1);
    assert_string_equal(cfg.advertised_listeners[0].name, "PLAINTEXT");
    assert_int_equal(cfg.controller_quorum_election_timeout_ms, 1000);
    assert_int_equal(cfg.controller_quorum_election_backoff_max_ms, 1000);
    assert_int_equal(cfg.controller_quorum_fetch_timeout_ms, 2000);
    assert_int_equal(cfg.controller_quorum_request_timeout_ms, 2000);
    assert_int_equal(cfg.controller_quorum_retry_backoff_ms, 20);
    assert_int_equal(cfg.offsets_topic_replication_factor, 3);
    assert_false(cfg.unclean_leader_election_enable);
    assert_int_equal(cfg.replica_lag_time_max_ms, 30000);
    assert_true(cfg.auto_leader_rebalance_enable);
    assert_int_equal(cfg.replica_fetch_max_bytes, 1048576);
    assert_int_equal(cfg.replica_fetch_wait_max_ms, 500);
    char text[256];
    /* Kafka prints the empty voter list as "" and inter.broker.listener.name as null. */
    assert_int_equal(
        sl_config_value_text(&cfg, sl_config_key_find("controller.quorum.voters"), text, 256), 0);
    assert_string_equal(text, "");
    assert_int_equal(
        sl_config_value_text(&cfg, sl_config_key_find("inter.broker.listener.name"), text, 256),
        SL_ENOTFOUND);
    assert_int_equal(sl_config_value_text(&cfg, sl_config_key_find("process.roles"), text, 256), 0);
    assert_string_equal(text, "broker,controller");
    sl_config_deinit(&cfg);
    /* A CONTROLLER listener without voters is bound but still not advertised. */
    test_load_ok(&cfg, "listeners: PLAINTEXT://:9092,CONTROLLER://:0\n");
    assert_int_equal(cfg.listeners_count, 2);
    assert_int_equal(cfg.advertised_listeners_count, 1);
    assert_string_equal(cfg.advertised_listeners[0].name, "PLAINTEXT");
    sl_config_deinit(&cfg);
}

static void test_voters_parsed(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "node.id: 2\n"
                       "listeners: [CONTROLLER://127.0.0.12:9093, PLAINTEXT://127.0.0.12:0]\n"
                       "controller.quorum.voters:\n"
                       "  - 1@sluice-0.sluice.default.svc.cluster.local:9093\n"
                       "  - 2@127.0.0.12:9093\n"
                       "  - 3@[::1]:9095\n");
    assert_int_equal(cfg.quorum_voter_count, 3);
    assert_int_equal(cfg.quorum_voters[0].node_id, 1);
    assert_string_equal(cfg.quorum_voters[0].host, "sluice-0.sluice.default.svc.cluster.local");
    assert_int_equal(cfg.quorum_voters[0].port, 9093);
    assert_int_equal(cfg.quorum_voters[1].node_id, 2);
    assert_string_equal(cfg.quorum_voters[1].host, "127.0.0.12");
    assert_int_equal(cfg.quorum_voters[2].node_id, 3);
    assert_string_equal(cfg.quorum_voters[2].host, "::1");
    assert_int_equal(cfg.quorum_voters[2].port, 9095);
    const sl_quorum_voter_config_t *me = sl_config_quorum_voter(&cfg, cfg.node_id);
    assert_non_null(me);
    assert_int_equal(me->port, 9093);
    assert_null(sl_config_quorum_voter(&cfg, 4));
    /* The controller listener is bound (listeners) but never advertised. */
    assert_int_equal(cfg.listeners_count, 2);
    assert_true(sl_config_listener_is_controller(&cfg, "CONTROLLER"));
    assert_false(sl_config_listener_is_controller(&cfg, "PLAINTEXT"));
    assert_int_equal(cfg.advertised_listeners_count, 1);
    assert_string_equal(cfg.advertised_listeners[0].name, "PLAINTEXT");
    assert_string_equal(cfg.inter_broker_listener_name, "PLAINTEXT");
    char text[512];
    assert_int_equal(
        sl_config_value_text(&cfg, sl_config_key_find("controller.quorum.voters"), text, 512), 0);
    assert_string_equal(text, "1@sluice-0.sluice.default.svc.cluster.local:9093,"
                              "2@127.0.0.12:9093,3@[::1]:9095");
    sl_config_deinit(&cfg);
    /* Lower-case controller.listener.names match the (upper-cased) listener names. */
    test_load_ok(&cfg, "node.id: 1\n"
                       "listeners: PLAINTEXT://:9092,quorum://:9093\n"
                       "controller.listener.names: quorum\n"
                       "controller.quorum.voters: 1@h:9093\n");
    assert_string_equal(cfg.controller_listener_names[0], "QUORUM");
    assert_true(sl_config_listener_is_controller(&cfg, "QUORUM"));
    assert_int_equal(cfg.advertised_listeners_count, 1);
    sl_config_deinit(&cfg);
}

static void test_bad_voter_strings(void **state)
{
    (void)state;
    test_expect_error("controller.quorum.voters: 1host:9093\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"1host:9093\" must look like "
                      "id@host:port, with id a node.id");
    test_expect_error("controller.quorum.voters: x@h:9093\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"x@h:9093\" must look like "
                      "id@host:port, with id a node.id");
    test_expect_error("controller.quorum.voters: -1@h:9093\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"-1@h:9093\" must look like "
                      "id@host:port, with id a node.id");
    test_expect_error("controller.quorum.voters: 99999999999@h:9093\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"99999999999@h:9093\" must "
                      "look like id@host:port, with id a node.id");
    test_expect_error("controller.quorum.voters: 1@h\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"1@h\" must look like "
                      "id@host:port");
    test_expect_error("controller.quorum.voters: 1@:9093\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"1@:9093\" has no host");
    test_expect_error("controller.quorum.voters: 1@h:0\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"1@h:0\": port 0 cannot be "
                      "reached");
    test_expect_error("controller.quorum.voters: 1@h:70000\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"1@h:70000\": port must be "
                      "between 0 and 65535, got \"70000\"");
    test_expect_error("controller.quorum.voters: 1@::1:9093\n",
                      "t.yaml:1:27: controller.quorum.voters: voter \"1@::1:9093\": an IPv6 host "
                      "must be in brackets, like [::1]");
    test_expect_error("controller.quorum.voters: 1@h:9093,,2@g:9093\n",
                      "t.yaml:1:27: controller.quorum.voters: list has an empty item");
}

static void test_duplicate_voters(void **state)
{
    (void)state;
    test_expect_error("controller.quorum.voters: 1@a:9093,2@b:9093,1@c:9093\n",
                      "t.yaml:1:27: controller.quorum.voters: node id 1 is listed twice");
    test_expect_error("controller.quorum.voters: [1@a:9093, 2@A:9093]\n",
                      "t.yaml:1:27: controller.quorum.voters: voters 1 and 2 have the same "
                      "address A:9093");
}

static void test_roles(void **state)
{
    (void)state;
    test_expect_error("process.roles: broker,zookeeper\n",
                      "t.yaml:1:16: process.roles: \"zookeeper\" is not one of broker, "
                      "controller");
    test_expect_error("process.roles: broker,broker\n",
                      "t.yaml:1:16: process.roles: \"broker\" is listed twice");
    test_expect_error("process.roles: controller\n",
                      "t.yaml:1:16: process.roles: a dedicated controller (controller without "
                      "broker) is not supported yet; use broker,controller");
    test_expect_error("process.roles: ''\n", "t.yaml:1:16: process.roles: must not be empty");
    /* A broker-only node must find the quorum somewhere. */
    test_expect_error("process.roles: broker\n",
                      "t.yaml:1:16: process.roles: a broker without the controller role needs "
                      "controller.quorum.voters to find the quorum");
    sl_config_t cfg;
    test_load_ok(&cfg, "node.id: 4\nprocess.roles: [BROKER]\n"
                       "controller.quorum.voters: 1@a:9093,2@b:9093,3@c:9093\n");
    assert_true(cfg.process_role_broker);
    assert_false(cfg.process_role_controller);
    assert_string_equal(cfg.process_roles[0], "broker");
    sl_config_deinit(&cfg);
}

static void test_quorum_rules(void **state)
{
    (void)state;
    /* A controller must be a voter. */
    test_expect_error("node.id: 4\n"
                      "listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n"
                      "controller.quorum.voters: 1@a:9093,2@b:9093,3@c:9093\n",
                      "t.yaml:3:27: controller.quorum.voters: node.id 4 has the controller role "
                      "(process.roles) but is not among the voters (1, 2, 3)");
    /* ... with a controller listener. */
    test_expect_error("node.id: 1\ncontroller.quorum.voters: 1@a:9093,2@b:9093,3@c:9093\n",
                      "t.yaml: controller.listener.names: a controller needs a listener named in "
                      "controller.listener.names among listeners; none of them is");
    test_expect_error("node.id: 1\n"
                      "listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n"
                      "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
                      "controller.listener.names: RAFT\n"
                      "controller.quorum.voters: 1@a:9093\n",
                      "t.yaml:4:28: controller.listener.names: a controller needs a listener "
                      "named in controller.listener.names among listeners; none of them is");
    /* A broker-only node is not a voter and has no controller listener. */
    test_expect_error("node.id: 2\nprocess.roles: broker\n"
                      "controller.quorum.voters: 1@a:9093,2@b:9093\n",
                      "t.yaml:3:27: controller.quorum.voters: node.id 2 is a voter but "
                      "process.roles has no controller role");
    test_expect_error("node.id: 4\nprocess.roles: broker\n"
                      "listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n"
                      "controller.quorum.voters: 1@a:9093\n",
                      "t.yaml:3:12: listeners: listener \"CONTROLLER\" is a controller listener, "
                      "but this node has only the broker role (process.roles)");
    /* An explicit protocol map must map the controller listener too, as in Kafka. */
    test_expect_error("listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n"
                      "listener.security.protocol.map: PLAINTEXT:PLAINTEXT\n",
                      "t.yaml:1:12: listeners: listener name \"CONTROLLER\" is not in "
                      "listener.security.protocol.map");
    /* Clients need a listener of their own. */
    test_expect_error("listeners: CONTROLLER://:9093\n",
                      "t.yaml:1:12: listeners: no listener for clients: every listener is named "
                      "in controller.listener.names");
}

static void test_controller_listener_not_advertised(void **state)
{
    (void)state;
    test_expect_error(VOTER_1 "advertised.listeners: PLAINTEXT://a:9092,CONTROLLER://a:9093\n",
                      "t.yaml:4:23: advertised.listeners: listener \"CONTROLLER\" is a controller "
                      "listener (controller.listener.names): clients never use it, so it must "
                      "not be advertised");
    sl_config_t cfg;
    test_load_ok(&cfg, VOTER_1 "advertised.listeners: PLAINTEXT://a.sluice:9092\n");
    assert_int_equal(cfg.advertised_listeners_count, 1);
    assert_string_equal(cfg.advertised_listeners[0].host, "a.sluice");
    sl_config_deinit(&cfg);
}

static void test_inter_broker_listener(void **state)
{
    (void)state;
    sl_config_t cfg;
    test_load_ok(&cfg, "node.id: 1\n"
                       "controller.quorum.voters: 1@a:9093\n"
                       "listeners: CONTROLLER://:9093,CLIENT://:9092,REPLICATION://:9094\n"
                       "listener.security.protocol.map: "
                       "CONTROLLER:PLAINTEXT,CLIENT:PLAINTEXT,REPLICATION:PLAINTEXT\n"
                       "inter.broker.listener.name: replication\n");
    assert_string_equal(cfg.inter_broker_listener_name, "REPLICATION");
    assert_int_equal(cfg.advertised_listeners_count, 2);
    sl_config_deinit(&cfg);
    /* Unset: the first listener that is not a controller one. */
    test_load_ok(&cfg, "listeners: CONTROLLER://:9093,CLIENT://:9092\n"
                       "listener.security.protocol.map: CONTROLLER:PLAINTEXT,CLIENT:PLAINTEXT\n");
    assert_string_equal(cfg.inter_broker_listener_name, "CLIENT");
    sl_config_deinit(&cfg);
    test_expect_error(VOTER_1 "inter.broker.listener.name: CONTROLLER\n",
                      "t.yaml:4:29: inter.broker.listener.name: \"CONTROLLER\" is a controller "
                      "listener (controller.listener.names)");
    test_expect_error(VOTER_1 "inter.broker.listener.name: INTERNAL\n",
                      "t.yaml:4:29: inter.broker.listener.name: listener name \"INTERNAL\" is not "
                      "among listeners");
}

static void test_dynamic_quorum_refused(void **state)
{
    (void)state;
    test_expect_error("controller.quorum.bootstrap.servers: a:9093,b:9093\n",
                      "t.yaml:1:1: controller.quorum.bootstrap.servers: dynamic quorum (KIP-853) "
                      "is not supported; use controller.quorum.voters");
    setenv("SLUICE_CFG_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS", "a:9093", 1);
    test_expect_error("", "environment SLUICE_CFG_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS: "
                          "controller.quorum.bootstrap.servers: dynamic quorum (KIP-853) is not "
                          "supported; use controller.quorum.voters");
    unsetenv("SLUICE_CFG_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS");
    /* Other controller.quorum.* keys of Kafka that Sluice does not use still only warn. */
    test_warnings_reset();
    sl_config_t cfg;
    test_load_ok(&cfg, "controller.quorum.append.linger.ms: 25\n");
    assert_int_equal(test_warnings_count(), 1);
    assert_string_equal(test_warning_key(0), "controller.quorum.append.linger.ms");
    sl_config_deinit(&cfg);
}

static void test_environment_overrides(void **state)
{
    (void)state;
    setenv("SLUICE_CFG_CONTROLLER_QUORUM_VOTERS", "1@e1:9093,2@e2:9093,3@e3:9093", 1);
    setenv("SLUICE_CFG_NODE_ID", "3", 1);
    setenv("SLUICE_CFG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS", "250", 1);
    sl_config_t cfg;
    test_load_ok(&cfg, "listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n"
                       "controller.quorum.voters: 9@f:1\n");
    assert_int_equal(cfg.quorum_voter_count, 3);
    assert_string_equal(cfg.quorum_voters[2].host, "e3");
    assert_int_equal(cfg.controller_quorum_election_timeout_ms, 250);
    assert_int_equal(sl_config_value_source(&cfg, sl_config_key_find("controller.quorum.voters")),
                     SL_CONFIG_SOURCE_ENV);
    sl_config_deinit(&cfg);
    setenv("SLUICE_CFG_CONTROLLER_QUORUM_VOTERS", "1@e1:9093,1@e2:9093", 1);
    test_expect_error("listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n",
                      "environment SLUICE_CFG_CONTROLLER_QUORUM_VOTERS: controller.quorum.voters: "
                      "node id 1 is listed twice");
    unsetenv("SLUICE_CFG_CONTROLLER_QUORUM_VOTERS");
    unsetenv("SLUICE_CFG_NODE_ID");
    unsetenv("SLUICE_CFG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS");
}

static void test_numeric_keys(void **state)
{
    (void)state;
    test_expect_error("controller.quorum.election.timeout.ms: 0\n",
                      "t.yaml:1:40: controller.quorum.election.timeout.ms: must be between 1 and "
                      "2147483647, got 0");
    test_expect_error("offsets.topic.replication.factor: 0\n",
                      "t.yaml:1:35: offsets.topic.replication.factor: must be between 1 and "
                      "32767, got 0");
    test_expect_error("replica.fetch.max.bytes: -1\n",
                      "t.yaml:1:26: replica.fetch.max.bytes: must be between 0 and 2147483647, "
                      "got -1");
    sl_config_t cfg;
    test_load_ok(&cfg, "offsets.topic.replication.factor: 1\n"
                       "controller.quorum.retry.backoff.ms: 0\n"
                       "auto.leader.rebalance.enable: false\n"
                       "replica.lag.time.max.ms: 10000\n");
    assert_int_equal(cfg.offsets_topic_replication_factor, 1);
    assert_int_equal(cfg.controller_quorum_retry_backoff_ms, 0);
    assert_false(cfg.auto_leader_rebalance_enable);
    assert_int_equal(cfg.replica_lag_time_max_ms, 10000);
    sl_config_deinit(&cfg);
}

static void test_cluster_id(void **state)
{
    (void)state;
    sl_config_t a, b, c;
    /* No voters, no cluster.id: none (the log dirs' own, or a random one at format). */
    test_load_ok(&a, "");
    assert_null(a.cluster_id);
    sl_config_deinit(&a);
    /* The same voters give every node the same id; other voters another one. */
    test_load_ok(&a, VOTER_1);
    test_load_ok(&b, "node.id: 2\n"
                     "listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n"
                     "controller.quorum.voters: 1@a.sluice:9093,2@b.sluice:9093,3@b.sluice:9094\n");
    test_load_ok(&c, "node.id: 1\n"
                     "listeners: PLAINTEXT://:9092,CONTROLLER://:9093\n"
                     "controller.quorum.voters: 1@a.other:9093,2@b.other:9093,3@b.other:9094\n");
    assert_non_null(a.cluster_id);
    assert_int_equal(strlen(a.cluster_id), 22);
    sl_uuid_t id;
    assert_int_equal(sl_uuid_from_base64(a.cluster_id, &id), 0);
    assert_string_equal(a.cluster_id, b.cluster_id);
    assert_string_not_equal(a.cluster_id, c.cluster_id);
    sl_config_deinit(&a);
    sl_config_deinit(&b);
    sl_config_deinit(&c);
    /* Given, it wins; it must be a Kafka id. */
    test_load_ok(&a, VOTER_1 "cluster.id: q1Sh-9_ISia_zwGINzRvyQ\n");
    assert_string_equal(a.cluster_id, "q1Sh-9_ISia_zwGINzRvyQ");
    sl_config_deinit(&a);
    test_expect_error(
        "cluster.id: 12345\n",
        "t.yaml:1:13: cluster.id: \"12345\" is not a Kafka cluster id (22 characters of "
        "base64url, as kafka-storage.sh random-uuid prints)");
}

int test_quorum_run(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_defaults_are_a_single_node),
        TEST(test_voters_parsed),
        TEST(test_bad_voter_strings),
        TEST(test_duplicate_voters),
        TEST(test_roles),
        TEST(test_quorum_rules),
        TEST(test_controller_listener_not_advertised),
        TEST(test_inter_broker_listener),
        TEST(test_dynamic_quorum_refused),
        TEST(test_environment_overrides),
        TEST(test_numeric_keys),
        TEST(test_cluster_id),
    };
    return cmocka_run_group_tests_name("config_quorum", tests, NULL, NULL);
}
