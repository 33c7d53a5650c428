/* topic: `sluice topic create|list|describe|delete|alter-config`, with kafka-topics.sh's semantics
 * where they matter: --if-not-exists on an existing topic and --if-exists on a missing one exit 0,
 * omitted --partitions/--replication-factor send -1 so the broker's defaults apply, errors are
 * Kafka's error names. Creates and deletes go to the controller Metadata names (KRaft brokers
 * forward them anyway); config reads and changes go to any broker. */
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

#define RESOURCE_TYPE_TOPIC 2
#define CONFIG_SOURCE_DYNAMIC_TOPIC 1
#define CONFIG_OP_SET 0
#define CONFIG_OP_DELETE 1

static bool json_output(const sl_cli_client_t *c)
{
    return c->args->output == SL_CLI_OUTPUT_JSON;
}

/* The controller's connection (any broker when Metadata names none). */
static int controller_conn(sl_cli_client_t *c, sl_cli_conn_t **out)
{
    sl_metadata_response_t *md = NULL;
    sl_slice_t none = SL_SLICE_NULL;
    int rc = sl__cli_metadata(c, &none, 0, &md, NULL);
    if (rc != 0)
        return rc;
    if (md->controller_id < 0)
        return sl__cli_any(c, out);
    return sl__cli_node(c, md->controller_id, out);
}

/* ---- create ---------------------------------------------------------------------------------- */

static int create_request(sl_cli_client_t *c, sl_cli_conn_t *conn, int16_t version,
                          sl_create_topics_response_t *resp)
{
    const sl_cli_args_t *a = c->args;
    sl_creatable_topic_t topic;
    sl_creatable_topic_config_t configs[SL_CLI_CONFIGS_MAX];
    sl_message_init(&sl_creatable_topic_desc, &topic);
    topic.name = sl_slice_from_str(a->positionals[0]);
    topic.num_partitions = a->partitions;
    topic.replication_factor = a->replication_factor;
    topic.assignments_count = 0;
    for (size_t i = 0; i < a->config_count; i++) {
        configs[i].name = (sl_slice_t){(const uint8_t *)a->configs[i].name, a->configs[i].name_len};
        configs[i].value = sl_slice_from_str(a->configs[i].value);
    }
    topic.configs = configs;
    topic.configs_count = (int32_t)a->config_count;
    sl_create_topics_request_t req;
    sl_create_topics_request_init(&req);
    req.topics = &topic;
    req.topics_count = 1;
    req.timeout_ms = (int32_t)SL_MIN(a->timeout_ms, INT32_MAX);
    req.validate_only = a->validate_only;
    return sl__cli_call(c, conn, SL_API_CREATE_TOPICS, version, &req, resp);
}

static void create_report(sl_cli_client_t *c, const sl_creatable_topic_result_t *t, bool created,
                          int16_t version, int *status)
{
    const char *name = c->args->positionals[0];
    if (!json_output(c)) {
        if (created)
            printf(c->args->validate_only ? "Topic %s would be created (validate only).\n"
                                          : "Created topic %s.\n",
                   name);
        return;
    }
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl__cli_doc_init(&doc);
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "name");
    sl__cli_json_cstr(j, name);
    sl__cli_json_key(j, "created");
    sl__cli_json_bool(j, created && !c->args->validate_only);
    sl__cli_json_key(j, "validate_only");
    sl__cli_json_bool(j, c->args->validate_only);
    if (created && !c->args->validate_only && version >= 7 && !sl_uuid_is_zero(&t->topic_id)) {
        char id[23];
        sl_uuid_to_base64(&t->topic_id, id);
        sl__cli_json_key(j, "topic_id");
        sl__cli_json_cstr(j, id);
    }
    if (created && version >= 5) {
        sl__cli_json_key(j, "partitions");
        sl__cli_json_int(j, t->num_partitions);
        sl__cli_json_key(j, "replication_factor");
        sl__cli_json_int(j, t->replication_factor);
    }
    sl__cli_json_object_end(j);
    *status = sl__cli_doc_finish(c, &doc, true, *status);
}

/* Waits (until the deadline) for Metadata to show the new topic with a leader for every
 * partition: Kafka answers CreateTopics before its brokers' metadata caches know the topic, and a
 * script that creates then produces, or a provisioning Job followed by the application, expects a
 * created topic to be usable. Against Sluice the first look succeeds. */
static void wait_until_usable(sl_cli_client_t *c, const char *name)
{
    sl_slice_t topic = sl_slice_from_str(name);
    do {
        sl_metadata_response_t *md = NULL;
        if (sl__cli_metadata(c, &topic, 1, &md, NULL) != 0)
            break; /* the topic was created: say so, whatever Metadata does */
        bool usable = md->topics_count == 1 && md->topics[0].error_code == SL_KERR_NONE &&
                      md->topics[0].partitions_count > 0;
        for (int32_t i = 0; usable && i < md->topics[0].partitions_count; i++)
            usable = md->topics[0].partitions[i].leader_id >= 0;
        if (usable)
            return;
    } while (sl__cli_pause(c));
    fprintf(stderr,
            "sluice: warning: topic %s was created but is not in the brokers' metadata "
            "yet\n",
            name);
    c->error[0] = '\0';
}

int sl__cli_topic_create(sl_cli_client_t *c)
{
    const sl_cli_args_t *a = c->args;
    bool defaults = a->partitions < 0 || a->replication_factor < 0;
    for (;;) {
        sl_cli_conn_t *conn = NULL;
        int16_t version = 0;
        int rc = controller_conn(c, &conn);
        /* -1 for "the broker's default" needs CreateTopics v4 (KIP-464). */
        rc = rc != 0
                 ? rc
                 : sl__cli_version(c, conn, SL_API_CREATE_TOPICS, defaults ? 4 : 0, 7, &version);
        sl_create_topics_response_t resp;
        rc = rc != 0 ? rc : create_request(c, conn, version, &resp);
        if (rc != 0)
            return rc;
        if (resp.topics_count != 1)
            return sl__cli_fail(c, "CreateTopics answered %" PRId32 " topics for 1",
                                resp.topics_count);
        const sl_creatable_topic_result_t *t = &resp.topics[0];
        int status = 0;
        if (t->error_code == SL_KERR_TOPIC_ALREADY_EXISTS && a->if_not_exists) {
            create_report(c, t, false, version, &status);
            return status;
        }
        if (t->error_code == SL_KERR_NONE) {
            if (!a->validate_only)
                wait_until_usable(c, a->positionals[0]);
            create_report(c, t, true, version, &status);
            return status;
        }
        if (!sl__cli_kerr_retriable(t->error_code))
            return sl__cli_fail_kerr(c, t->error_code, t->error_message);
        if (!sl__cli_backoff(c, "CreateTopics", t->error_code))
            return SL_CLI_EXIT_ERROR;
    }
}

/* ---- list and describe ----------------------------------------------------------------------- */

static int topic_name_cmp(const void *a, const void *b)
{
    const sl_metadata_response_topic_t *x = a, *y = b;
    size_t n = SL_MIN(x->name.len, y->name.len);
    int d = n > 0 ? memcmp(x->name.ptr, y->name.ptr, n) : 0;
    return d != 0 ? d : (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

static int partition_cmp(const void *a, const void *b)
{
    const sl_metadata_response_partition_t *x = a, *y = b;
    return (x->partition_index > y->partition_index) - (x->partition_index < y->partition_index);
}

static void sort_metadata(sl_metadata_response_t *md)
{
    if (md->topics_count > 1)
        qsort(md->topics, (size_t)md->topics_count, sizeof *md->topics, topic_name_cmp);
    for (int32_t i = 0; i < md->topics_count; i++)
        if (md->topics[i].partitions_count > 1)
            qsort(md->topics[i].partitions, (size_t)md->topics[i].partitions_count,
                  sizeof *md->topics[i].partitions, partition_cmp);
}

static int32_t replication_factor(const sl_metadata_response_topic_t *t)
{
    return t->partitions_count > 0 ? t->partitions[0].replica_nodes_count : 0;
}

int sl__cli_topic_list(sl_cli_client_t *c)
{
    sl_metadata_response_t *md = NULL;
    int rc = sl__cli_metadata(c, NULL, 0, &md, NULL);
    if (rc != 0)
        return rc;
    sort_metadata(md);
    int status = 0;
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl__cli_doc_init(&doc);
    sl__cli_json_array_begin(j);
    static const char *const headers[] = {"TOPIC", "PARTITIONS", "REPLICATION-FACTOR"};
    sl_cli_table_t table;
    sl__cli_table_init(&table, 3, headers);
    for (int32_t i = 0; i < md->topics_count; i++) {
        const sl_metadata_response_topic_t *t = &md->topics[i];
        if (json_output(c)) {
            sl__cli_json_object_begin(j);
            sl__cli_json_key(j, "name");
            sl__cli_json_string(j, t->name);
            sl__cli_json_key(j, "partitions");
            sl__cli_json_int(j, t->partitions_count);
            sl__cli_json_key(j, "replication_factor");
            sl__cli_json_int(j, replication_factor(t));
            sl__cli_json_key(j, "internal");
            sl__cli_json_bool(j, t->is_internal);
            sl__cli_json_object_end(j);
            continue;
        }
        char parts[16], rf[16];
        snprintf(parts, sizeof parts, "%" PRId32, t->partitions_count);
        snprintf(rf, sizeof rf, "%" PRId32, replication_factor(t));
        const char *row[] = {sl__cli_str(c, t->name), parts, rf};
        if (sl__cli_table_row(&table, row) != 0)
            status = sl__cli_fail(c, "out of memory");
    }
    sl__cli_json_array_end(j);
    if (!json_output(c) && sl__cli_table_print(&table, stdout) != 0 && status == 0)
        status = sl__cli_fail(c, "cannot write the output");
    sl__cli_table_deinit(&table);
    return sl__cli_doc_finish(c, &doc, json_output(c), status);
}

static int describe_configs(sl_cli_client_t *c, const sl_metadata_response_t *md,
                            sl_describe_configs_response_t *resp, int16_t *version)
{
    sl_cli_conn_t *conn = NULL;
    int rc = sl__cli_prepare(c, SL_CLI_ANY_NODE, SL_API_DESCRIBE_CONFIGS, 0, 4, &conn, version);
    if (rc != 0)
        return rc;
    sl_describe_configs_request_t req;
    sl_describe_configs_request_init(&req);
    req.resources =
        sl_arena_alloc(&c->arena, ((size_t)md->topics_count + 1) * sizeof *req.resources);
    if (req.resources == NULL)
        return sl__cli_fail(c, "out of memory");
    for (int32_t i = 0; i < md->topics_count; i++) {
        req.resources[i].resource_type = RESOURCE_TYPE_TOPIC;
        req.resources[i].resource_name = md->topics[i].name;
        req.resources[i].configuration_keys = NULL;
        req.resources[i].configuration_keys_count = -1;
    }
    req.resources_count = md->topics_count;
    return sl__cli_call(c, conn, SL_API_DESCRIBE_CONFIGS, *version, &req, resp);
}

/* The configs of topic set on the topic itself (not broker or static defaults). */
static const sl_describe_configs_result_t *configs_of(const sl_describe_configs_response_t *dc,
                                                      sl_slice_t topic)
{
    for (int32_t i = 0; i < dc->results_count; i++)
        if (sl_slice_eq(dc->results[i].resource_name, topic))
            return &dc->results[i];
    return NULL;
}

static bool config_is_set(const sl_describe_configs_resource_result_t *cfg, int16_t version)
{
    return version >= 1 ? cfg->config_source == CONFIG_SOURCE_DYNAMIC_TOPIC : !cfg->is_default;
}

static void json_int_array(sl_cli_json_t *j, const char *key, const int32_t *v, int32_t count)
{
    sl__cli_json_key(j, key);
    sl__cli_json_array_begin(j);
    for (int32_t i = 0; i < count; i++)
        sl__cli_json_int(j, v[i]);
    sl__cli_json_array_end(j);
}

static void describe_json(sl_cli_json_t *j, const sl_metadata_response_topic_t *t,
                          const sl_describe_configs_result_t *cfgs, int16_t cfg_version)
{
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "name");
    sl__cli_json_string(j, t->name);
    if (!sl_uuid_is_zero(&t->topic_id)) {
        char id[23];
        sl_uuid_to_base64(&t->topic_id, id);
        sl__cli_json_key(j, "topic_id");
        sl__cli_json_cstr(j, id);
    }
    sl__cli_json_key(j, "internal");
    sl__cli_json_bool(j, t->is_internal);
    sl__cli_json_key(j, "replication_factor");
    sl__cli_json_int(j, replication_factor(t));
    sl__cli_json_key(j, "partitions");
    sl__cli_json_array_begin(j);
    for (int32_t p = 0; p < t->partitions_count; p++) {
        const sl_metadata_response_partition_t *pt = &t->partitions[p];
        sl__cli_json_object_begin(j);
        sl__cli_json_key(j, "partition");
        sl__cli_json_int(j, pt->partition_index);
        sl__cli_json_key(j, "leader");
        sl__cli_json_int(j, pt->leader_id);
        sl__cli_json_key(j, "leader_epoch");
        sl__cli_json_int(j, pt->leader_epoch);
        json_int_array(j, "replicas", pt->replica_nodes, pt->replica_nodes_count);
        json_int_array(j, "isr", pt->isr_nodes, pt->isr_nodes_count);
        json_int_array(j, "offline_replicas", pt->offline_replicas,
                       SL_MAX(pt->offline_replicas_count, 0));
        sl__cli_json_object_end(j);
    }
    sl__cli_json_array_end(j);
    sl__cli_json_key(j, "configs");
    sl__cli_json_object_begin(j);
    for (int32_t k = 0; cfgs != NULL && k < cfgs->configs_count; k++) {
        const sl_describe_configs_resource_result_t *cfg = &cfgs->configs[k];
        if (!config_is_set(cfg, cfg_version))
            continue;
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)cfg->name.len, (const char *)cfg->name.ptr);
        sl__cli_json_key(j, key);
        sl__cli_json_string(j, cfg->value);
    }
    sl__cli_json_object_end(j);
    sl__cli_json_object_end(j);
}

static void join_ints(char *out, size_t out_len, const int32_t *v, int32_t count)
{
    size_t used = 0;
    out[0] = '\0';
    for (int32_t i = 0; i < count && used < out_len; i++) {
        int n = snprintf(out + used, out_len - used, "%s%" PRId32, i > 0 ? "," : "", v[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}

static int describe_table(sl_cli_client_t *c, const sl_metadata_response_topic_t *t,
                          const sl_describe_configs_result_t *cfgs, int16_t cfg_version)
{
    char id[23] = "-";
    if (!sl_uuid_is_zero(&t->topic_id))
        sl_uuid_to_base64(&t->topic_id, id);
    printf("Topic: %.*s\tTopicId: %s\tPartitionCount: %" PRId32 "\tReplicationFactor: %" PRId32
           "\tConfigs: ",
           (int)t->name.len, (const char *)t->name.ptr, id, t->partitions_count,
           replication_factor(t));
    const char *sep = "";
    for (int32_t k = 0; cfgs != NULL && k < cfgs->configs_count; k++) {
        const sl_describe_configs_resource_result_t *cfg = &cfgs->configs[k];
        if (!config_is_set(cfg, cfg_version))
            continue;
        printf("%s%.*s=%.*s", sep, (int)cfg->name.len, (const char *)cfg->name.ptr,
               cfg->value.ptr != NULL ? (int)cfg->value.len : 11,
               cfg->value.ptr != NULL ? (const char *)cfg->value.ptr : "(sensitive)");
        sep = ",";
    }
    printf("\n");
    static const char *const headers[] = {"PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE"};
    sl_cli_table_t table;
    sl__cli_table_init(&table, 5, headers);
    int rc = 0;
    for (int32_t p = 0; p < t->partitions_count && rc == 0; p++) {
        const sl_metadata_response_partition_t *pt = &t->partitions[p];
        char part[16], leader[16], replicas[512], isr[512], offline[512];
        snprintf(part, sizeof part, "%" PRId32, pt->partition_index);
        snprintf(leader, sizeof leader, "%" PRId32, pt->leader_id);
        join_ints(replicas, sizeof replicas, pt->replica_nodes, pt->replica_nodes_count);
        join_ints(isr, sizeof isr, pt->isr_nodes, pt->isr_nodes_count);
        join_ints(offline, sizeof offline, pt->offline_replicas,
                  SL_MAX(pt->offline_replicas_count, 0));
        const char *row[] = {part, leader, replicas, isr, offline[0] ? offline : NULL};
        rc = sl__cli_table_row(&table, row);
    }
    rc = rc != 0 ? rc : sl__cli_table_print(&table, stdout);
    sl__cli_table_deinit(&table);
    return rc != 0 ? sl__cli_fail(c, "cannot write the output") : 0;
}

/* Metadata for the named topics (all when none are named), retried while leaders are elected. */
static int describe_metadata(sl_cli_client_t *c, sl_metadata_response_t **md)
{
    const sl_cli_args_t *a = c->args;
    sl_slice_t names[SL_CLI_POSITIONALS_MAX];
    for (size_t i = 0; i < a->positional_count; i++)
        names[i] = sl_slice_from_str(a->positionals[i]);
    for (;;) {
        int rc = sl__cli_metadata(c, a->positional_count > 0 ? names : NULL, a->positional_count,
                                  md, NULL);
        if (rc != 0)
            return rc;
        int16_t kerr = SL_KERR_NONE;
        sl_slice_t failed = SL_SLICE_NULL;
        for (int32_t i = 0; i < (*md)->topics_count && kerr == SL_KERR_NONE; i++) {
            kerr = (*md)->topics[i].error_code;
            failed = (*md)->topics[i].name;
        }
        if (kerr == SL_KERR_NONE)
            return 0;
        if (kerr == SL_KERR_UNKNOWN_TOPIC_OR_PARTITION)
            return sl__cli_fail(c, "UNKNOWN_TOPIC_OR_PARTITION: Topic '%.*s' does not exist",
                                (int)failed.len, (const char *)failed.ptr);
        if (!sl__cli_kerr_retriable(kerr))
            return sl__cli_fail_kerr(c, kerr, SL_SLICE_NULL);
        if (!sl__cli_backoff(c, "Metadata", kerr))
            return SL_CLI_EXIT_ERROR;
    }
}

int sl__cli_topic_describe(sl_cli_client_t *c)
{
    sl_metadata_response_t *md = NULL;
    sl_describe_configs_response_t dc = {0};
    int16_t cfg_version = 0;
    int rc = describe_metadata(c, &md);
    rc = rc != 0 ? rc : describe_configs(c, md, &dc, &cfg_version);
    if (rc != 0)
        return rc;
    sort_metadata(md);
    for (int32_t i = 0; i < dc.results_count; i++)
        if (dc.results[i].error_code != SL_KERR_NONE)
            return sl__cli_fail_kerr(c, dc.results[i].error_code, dc.results[i].error_message);
    int status = 0;
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl__cli_doc_init(&doc);
    sl__cli_json_array_begin(j);
    for (int32_t i = 0; i < md->topics_count && status == 0; i++) {
        const sl_metadata_response_topic_t *t = &md->topics[i];
        const sl_describe_configs_result_t *cfgs = configs_of(&dc, t->name);
        if (json_output(c))
            describe_json(j, t, cfgs, cfg_version);
        else
            status = describe_table(c, t, cfgs, cfg_version);
    }
    sl__cli_json_array_end(j);
    return sl__cli_doc_finish(c, &doc, json_output(c), status);
}

/* ---- delete ---------------------------------------------------------------------------------- */

static int delete_request(sl_cli_client_t *c, sl_delete_topics_response_t *resp)
{
    const sl_cli_args_t *a = c->args;
    sl_cli_conn_t *conn = NULL;
    int16_t version = 0;
    int rc = controller_conn(c, &conn);
    rc = rc != 0 ? rc : sl__cli_version(c, conn, SL_API_DELETE_TOPICS, 0, 6, &version);
    if (rc != 0)
        return rc;
    sl_slice_t names[SL_CLI_POSITIONALS_MAX];
    sl_delete_topic_state_t states[SL_CLI_POSITIONALS_MAX];
    for (size_t i = 0; i < a->positional_count; i++) {
        names[i] = sl_slice_from_str(a->positionals[i]);
        sl_message_init(&sl_delete_topic_state_desc, &states[i]);
        states[i].name = names[i];
    }
    sl_delete_topics_request_t req;
    sl_delete_topics_request_init(&req);
    if (version >= 6) {
        req.topics = states;
        req.topics_count = (int32_t)a->positional_count;
    } else {
        req.topic_names = names;
        req.topic_names_count = (int32_t)a->positional_count;
    }
    req.timeout_ms = (int32_t)SL_MIN(a->timeout_ms, INT32_MAX);
    return sl__cli_call(c, conn, SL_API_DELETE_TOPICS, version, &req, resp);
}

int sl__cli_topic_delete(sl_cli_client_t *c)
{
    sl_delete_topics_response_t resp;
    int rc = delete_request(c, &resp);
    if (rc != 0)
        return rc;
    int status = 0;
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl__cli_doc_init(&doc);
    sl__cli_json_array_begin(j);
    for (int32_t i = 0; i < resp.responses_count; i++) {
        const sl_deletable_topic_result_t *t = &resp.responses[i];
        bool missing = t->error_code == SL_KERR_UNKNOWN_TOPIC_OR_PARTITION ||
                       t->error_code == SL_KERR_UNKNOWN_TOPIC_ID;
        bool ok = t->error_code == SL_KERR_NONE || (missing && c->args->if_exists);
        if (!ok) {
            status = sl__cli_fail_kerr(c, t->error_code, t->error_message);
            fprintf(stderr, "sluice: topic %.*s: %s\n", (int)t->name.len, (const char *)t->name.ptr,
                    c->error);
        } else if (!json_output(c) && t->error_code == SL_KERR_NONE) {
            printf("Deleted topic %.*s.\n", (int)t->name.len, (const char *)t->name.ptr);
        }
        sl__cli_json_object_begin(j);
        sl__cli_json_key(j, "name");
        sl__cli_json_string(j, t->name);
        sl__cli_json_key(j, "deleted");
        sl__cli_json_bool(j, t->error_code == SL_KERR_NONE);
        sl__cli_json_key(j, "error");
        sl__cli_json_cstr(j, t->error_code != SL_KERR_NONE ? sl_kerr_name(t->error_code) : NULL);
        sl__cli_json_object_end(j);
    }
    sl__cli_json_array_end(j);
    c->error[0] = '\0'; /* each failure was printed with its topic above */
    return sl__cli_doc_finish(c, &doc, json_output(c), status);
}

/* ---- alter-config ---------------------------------------------------------------------------- */

int sl__cli_topic_alter_config(sl_cli_client_t *c)
{
    const sl_cli_args_t *a = c->args;
    sl_cli_conn_t *conn = NULL;
    int16_t version = 0;
    int rc = sl__cli_prepare(c, SL_CLI_ANY_NODE, SL_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, &conn,
                             &version);
    if (rc != 0)
        return rc;
    sl_incremental_alter_configs_request_alterable_config_t configs[SL_CLI_CONFIGS_MAX];
    for (size_t i = 0; i < a->config_count; i++) {
        configs[i].name = (sl_slice_t){(const uint8_t *)a->configs[i].name, a->configs[i].name_len};
        configs[i].config_operation =
            a->configs[i].value != NULL ? CONFIG_OP_SET : CONFIG_OP_DELETE;
        configs[i].value =
            a->configs[i].value != NULL ? sl_slice_from_str(a->configs[i].value) : SL_SLICE_NULL;
    }
    sl_incremental_alter_configs_request_alter_configs_resource_t resource = {
        .resource_type = RESOURCE_TYPE_TOPIC,
        .resource_name = sl_slice_from_str(a->positionals[0]),
        .configs = configs,
        .configs_count = (int32_t)a->config_count,
    };
    sl_incremental_alter_configs_request_t req;
    sl_incremental_alter_configs_response_t resp;
    sl_incremental_alter_configs_request_init(&req);
    req.resources = &resource;
    req.resources_count = 1;
    rc = sl__cli_call(c, conn, SL_API_INCREMENTAL_ALTER_CONFIGS, version, &req, &resp);
    if (rc != 0)
        return rc;
    if (resp.responses_count != 1)
        return sl__cli_fail(c, "IncrementalAlterConfigs answered %" PRId32 " resources for 1",
                            resp.responses_count);
    if (resp.responses[0].error_code != SL_KERR_NONE)
        return sl__cli_fail_kerr(c, resp.responses[0].error_code, resp.responses[0].error_message);
    if (!json_output(c)) {
        printf("Updated the configs of topic %s.\n", a->positionals[0]);
        return 0;
    }
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl__cli_doc_init(&doc);
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "name");
    sl__cli_json_cstr(j, a->positionals[0]);
    sl__cli_json_key(j, "updated");
    sl__cli_json_bool(j, true);
    sl__cli_json_object_end(j);
    return sl__cli_doc_finish(c, &doc, true, 0);
}
