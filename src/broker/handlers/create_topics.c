/* CreateTopics (key 19, versions 0-7): creates topics with their partitions and config overrides,
 * or only checks them (validate_only). One broker: a replication factor above 1 is refused with
 * INVALID_REPLICATION_FACTOR, as Kafka refuses one above its broker count. */
#include <stdio.h>
#include <string.h>

#include "../broker_int.h"
#include "alter.h"

#define ERROR_MESSAGE_BYTES 512

/* What the topic will be: partitions and replication factor resolved, or an error. */
static sl_kerr_t resolve_shape(const sl_config_t *cfg, const sl_creatable_topic_t *in,
                               int32_t *partitions, int16_t *replication, char *msg, size_t len)
{
    int32_t node = cfg->node_id;
    if (in->assignments_count > 0) {
        if (in->num_partitions != -1 || in->replication_factor != -1) {
            snprintf(msg, len,
                     "Both numPartitions or replicationFactor and replicasAssignments "
                     "were set. Both cannot be used at the same time.");
            return SL_KERR_INVALID_REQUEST;
        }
        for (int32_t i = 0; i < in->assignments_count; i++) {
            const sl_creatable_replica_assignment_t *a = &in->assignments[i];
            if (a->partition_index != i || a->broker_ids_count != 1 || a->broker_ids[0] != node) {
                snprintf(msg, len,
                         "Replica assignment for partition %d must be [%d]: this "
                         "cluster has one broker and partitions numbered from 0.",
                         (int)a->partition_index, (int)node);
                return SL_KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
        *partitions = in->assignments_count;
        *replication = 1;
        return SL_KERR_NONE;
    }
    *partitions = in->num_partitions == -1 ? cfg->num_partitions : in->num_partitions;
    *replication =
        in->replication_factor == -1 ? cfg->default_replication_factor : in->replication_factor;
    if (*partitions < 1) {
        snprintf(msg, len, "Number of partitions was set to an invalid non-positive value.");
        return SL_KERR_INVALID_PARTITIONS;
    }
    if (*replication < 1) {
        snprintf(msg, len,
                 "Replication factor must be larger than 0, or -1 to use the default "
                 "value.");
        return SL_KERR_INVALID_REPLICATION_FACTOR;
    }
    if (*replication > 1) {
        snprintf(msg, len,
                 "Unable to replicate the partition %d time(s): The target "
                 "replication factor of %d cannot be reached because only 1 broker(s) "
                 "are registered.",
                 (int)*replication, (int)*replication);
        return SL_KERR_INVALID_REPLICATION_FACTOR;
    }
    return SL_KERR_NONE;
}

/* DescribeConfigs' ConfigSource numbers, which CreateTopics v5+ reports too. */
static int8_t wire_source(sl_config_source_t source)
{
    switch (source) {
    case SL_CONFIG_SOURCE_DYNAMIC_BROKER:
        return 2; /* DYNAMIC_BROKER_CONFIG */
    case SL_CONFIG_SOURCE_DYNAMIC_DEFAULT:
        return 3; /* DYNAMIC_DEFAULT_BROKER_CONFIG */
    case SL_CONFIG_SOURCE_FILE:
    case SL_CONFIG_SOURCE_ENV:
        return 4; /* STATIC_BROKER_CONFIG */
    case SL_CONFIG_SOURCE_DEFAULT:
    default:
        return 5; /* DEFAULT_CONFIG */
    }
}

/* v5+: the topic's configs as created: every key, its value and where it came from. */
static int describe_configs(sl_request_t *req, const sl_creatable_topic_t *in,
                            sl_creatable_topic_result_t *out)
{
    size_t count = sl_topic_config_key_count();
    sl_creatable_topic_configs_t *configs = sl_arena_alloc(&req->arena, count * sizeof(*configs));
    if (configs == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < count; i++) {
        const sl_topic_config_key_t *key = sl_topic_config_key_at(i);
        sl_creatable_topic_configs_t *c = &configs[i];
        *c = (sl_creatable_topic_configs_t){.name = sl_slice_from_str(key->name)};
        c->value = SL_SLICE_NULL;
        c->config_source = 1; /* DYNAMIC_TOPIC_CONFIG, when overridden below */
        for (int32_t j = 0; j < in->configs_count; j++)
            if (sl_slice_eq_str(in->configs[j].name, key->name))
                c->value = in->configs[j].value;
        if (c->value.ptr == NULL) {
            char text[256];
            sl_config_source_t source;
            if (sl_topic_config_default(req->broker->cfg, key, text, sizeof(text), &source) == 0)
                c->value = sl_slice_from_str(sl_arena_strndup(&req->arena, text, strlen(text)));
            c->config_source = wire_source(source);
        }
        c->is_sensitive = false; /* no topic config is a password */
    }
    out->configs = configs;
    out->configs_count = (int32_t)count;
    return 0;
}

static int create_one(sl_request_t *req, const sl_create_topics_request_t *all, int32_t i,
                      bool repeated, sl_creatable_topic_result_t *out)
{
    const sl_creatable_topic_t *in = &all->topics[i];
    char *msg = sl_arena_alloc(&req->arena, ERROR_MESSAGE_BYTES);
    if (msg == NULL)
        return SL_ELIMIT;
    *out = (sl_creatable_topic_result_t){
        .name = in->name, .num_partitions = -1, .replication_factor = -1, .configs_count = 0};
    int32_t partitions = 0;
    int16_t replication = 0;
    sl_kerr_t err = SL_KERR_NONE;
    if (repeated) {
        snprintf(msg, ERROR_MESSAGE_BYTES, "Duplicate topic name.");
        err = SL_KERR_INVALID_REQUEST;
    } else {
        err = resolve_shape(req->broker->cfg, in, &partitions, &replication, msg,
                            ERROR_MESSAGE_BYTES);
    }
    size_t configs_count = in->configs_count > 0 ? (size_t)in->configs_count : 0;
    sl_slice_t *names = sl_arena_alloc(&req->arena, (configs_count + 1) * sizeof(sl_slice_t));
    sl_slice_t *values = sl_arena_alloc(&req->arena, (configs_count + 1) * sizeof(sl_slice_t));
    if (names == NULL || values == NULL)
        return SL_ELIMIT;
    for (size_t c = 0; c < configs_count; c++) {
        names[c] = in->configs[c].name;
        values[c] = in->configs[c].value;
    }
    sl_topic_t *topic = NULL;
    if (err == SL_KERR_NONE) {
        sl_topic_spec_t spec = {.name = in->name,
                                .partitions = partitions,
                                .config_names = names,
                                .config_values = values,
                                .configs_count = configs_count};
        err = sl__topics_create(req->broker->topics, &spec, all->validate_only, &topic, msg,
                                ERROR_MESSAGE_BYTES);
    }
    out->error_code = err;
    if (err != SL_KERR_NONE) {
        out->error_message = sl_slice_from_str(msg);
        return 0;
    }
    if (topic != NULL)
        out->topic_id = topic->id;
    out->num_partitions = partitions;
    out->replication_factor = replication;
    return describe_configs(req, in, out);
}

int sl__handle_create_topics(sl_request_t *req, const void *request, void *response)
{
    int routed;
    if (sl__cluster_route_admin(req, request, response, &routed))
        return routed; /* quorum mode: the active controller decides */
    const sl_create_topics_request_t *in = request;
    sl_create_topics_response_t *out = response;
    size_t count = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    sl_creatable_topic_result_t *results =
        sl_arena_alloc(&req->arena, (count + 1) * sizeof(*results));
    if (results == NULL)
        return SL_ELIMIT;
    /* A name given twice is answered once (Kafka collects names into a map), with
     * INVALID_REQUEST; found by sorting, since a request may name millions of topics. */
    sl_slice_t *names = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*names));
    if (names == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < count; i++)
        names[i] = in->topics[i].name;
    const uint8_t *repeats = sl__alter_repeated(req, NULL, names, count);
    if (repeats == NULL)
        return SL_ELIMIT;
    size_t answered = 0;
    for (size_t i = 0; i < count; i++) {
        if (repeats[i] == SL_ALTER_AGAIN)
            continue;
        int rc =
            create_one(req, in, (int32_t)i, repeats[i] == SL_ALTER_FIRST, &results[answered++]);
        if (rc != 0)
            return rc;
    }
    out->throttle_time_ms = 0;
    out->topics = results;
    out->topics_count = (int32_t)answered;
    return 0;
}
