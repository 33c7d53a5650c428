/* Metadata (key 3): the brokers, the cluster id, the controller and the topics with their
 * partitions. A named topic that does not exist answers UNKNOWN_TOPIC_OR_PARTITION (or
 * INVALID_TOPIC_EXCEPTION for a name Kafka would reject, UNKNOWN_TOPIC_ID for an id), unless
 * auto.create.topics.enable and the request allow creating it. */
#include <string.h>

#include "../broker_int.h"
#include "alter.h"

#define SL_CLUSTER_OPERATIONS_ALL 8096

/* Versions 10 and 11 carry the id field, but Kafka refuses ids (and null names) before 12 and
 * answers the whole request as an error. */
static bool refuses_topic_ids(int16_t version, const sl_metadata_request_t *in)
{
    if (version >= 12)
        return false;
    for (int32_t i = 0; i < in->topics_count; i++)
        if (in->topics[i].name.ptr == NULL || !sl_uuid_is_zero(&in->topics[i].topic_id))
            return true;
    return false;
}

/* Kafka's error answer to a Metadata request: no brokers, no cluster id, no controller, and the
 * error on every topic asked for. */
static int error_response(sl_request_t *req, const sl_metadata_request_t *in,
                          sl_metadata_response_t *out, sl_kerr_t error)
{
    size_t count = (size_t)in->topics_count;
    sl_metadata_response_topic_t *topics = sl_arena_alloc(&req->arena, count * sizeof(*topics));
    if (topics == NULL && count > 0)
        return SL_ELIMIT;
    for (size_t i = 0; i < count; i++) {
        topics[i] = (sl_metadata_response_topic_t){0};
        topics[i].error_code = error;
        topics[i].name = in->topics[i].name;
        topics[i].topic_id = in->topics[i].topic_id;
        topics[i].topic_authorized_operations = INT32_MIN;
    }
    out->brokers_count = 0;
    out->cluster_id = SL_SLICE_NULL;
    out->controller_id = -1;
    out->topics = topics;
    out->topics_count = (int32_t)count;
    return 0;
}

static sl_kerr_t unknown_topic_error(const sl_metadata_request_topic_t *t)
{
    if (t->name.ptr == NULL)
        return SL_KERR_UNKNOWN_TOPIC_ID;
    return sl__topic_name_valid(t->name) ? SL_KERR_UNKNOWN_TOPIC_OR_PARTITION
                                         : SL_KERR_INVALID_TOPIC_EXCEPTION;
}

/* Marks the entries that repeat an earlier one (same name, or same id for a nameless entry), by
 * sorting: a request may name millions of topics. NULL when the arena is full. */
static const uint8_t *repeated_topics(sl_request_t *req, const sl_metadata_request_t *in)
{
    size_t count = (size_t)in->topics_count;
    sl_slice_t *keys = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*keys));
    int8_t *kinds = sl_arena_alloc(&req->arena, count + 1);
    if (keys == NULL || kinds == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        const sl_metadata_request_topic_t *t = &in->topics[i];
        kinds[i] = t->name.ptr != NULL ? 0 : 1;
        keys[i] = t->name.ptr != NULL ? t->name : (sl_slice_t){t->topic_id.bytes, 16};
    }
    return sl__alter_repeated(req, kinds, keys, count);
}

/* Quorum mode: every registered, unfenced broker with an endpoint on the listener the client came
 * through (as Kafka's MetadataCache answers: a broker without that listener is left out). */
static int fill_cluster_brokers(sl_request_t *req, sl_metadata_response_t *out)
{
    const sl_metadata_image_t *img = sl__cluster_image(req->broker->cluster);
    const char *listener = req->broker->advertised[req->listener_index].name;
    sl_metadata_response_broker_t *b =
        sl_arena_alloc(&req->arena, sizeof(*b) * ((size_t)img->broker_count + 1));
    if (b == NULL)
        return SL_ELIMIT;
    int32_t n = 0;
    for (int32_t i = 0; i < img->broker_count; i++) {
        const sl_metadata_broker_t *mb = &img->brokers[i];
        if (mb->fenced)
            continue;
        for (int32_t e = 0; e < mb->endpoint_count; e++) {
            const sl_metadata_endpoint_t *ep = &mb->endpoints[e];
            if (strcmp(ep->name, listener) != 0)
                continue;
            b[n++] = (sl_metadata_response_broker_t){
                .node_id = mb->id,
                .host = sl_slice_from_str(ep->host),
                .port = ep->port,
                .rack = mb->rack != NULL ? sl_slice_from_str(mb->rack) : SL_SLICE_NULL};
            break;
        }
    }
    out->brokers = b;
    out->brokers_count = n;
    return 0;
}

static int fill_brokers(sl_request_t *req, sl_metadata_response_t *out)
{
    const sl_broker_t *broker = req->broker;
    if (broker->cluster != NULL)
        return fill_cluster_brokers(req, out);
    SL_ASSERT(req->listener_index < broker->advertised_count);
    const sl_endpoint_t *ep = &broker->advertised[req->listener_index];
    sl_metadata_response_broker_t *b = sl_arena_alloc(&req->arena, sizeof(*b));
    if (b == NULL)
        return SL_ELIMIT;
    *b = (sl_metadata_response_broker_t){.node_id = broker->cfg->node_id,
                                         .host = sl_slice_from_str(ep->host),
                                         .port = ep->port,
                                         .rack = SL_SLICE_NULL};
    out->brokers = b;
    out->brokers_count = 1;
    return 0;
}

/* Quorum mode: the partitions as the image has them. A leader that is fenced (or gone) leads
 * nothing clients can reach: leader -1 until its partition's Raft group reports a new one. */
static int describe_cluster_topic(sl_request_t *req, sl_topic_t *topic,
                                  sl_metadata_response_topic_t *o)
{
    const sl_cluster_t *cluster = req->broker->cluster;
    const sl_metadata_topic_t *t =
        sl_metadata_topic_find_id(sl__cluster_image(cluster), &topic->id);
    size_t count = t != NULL ? (size_t)t->partition_count : 0;
    sl_metadata_response_partition_t *parts =
        sl_arena_alloc(&req->arena, (count + 1) * sizeof(*parts));
    if (parts == NULL)
        return SL_ELIMIT;
    size_t n = 0;
    for (size_t p = 0; p < count; p++) {
        const sl_metadata_partition_t *mp = &t->partitions[p];
        if (!mp->exists)
            continue;
        int32_t *offline =
            sl_arena_alloc(&req->arena, sizeof(int32_t) * ((size_t)mp->replicas.count + 1));
        if (offline == NULL)
            return SL_ELIMIT;
        int32_t offline_count = 0;
        for (int32_t r = 0; r < mp->replicas.count; r++)
            if (!sl__cluster_broker_live(cluster, mp->replicas.ids[r]))
                offline[offline_count++] = mp->replicas.ids[r];
        bool led = mp->leader >= 0 && sl__cluster_broker_live(cluster, mp->leader);
        parts[n++] = (sl_metadata_response_partition_t){
            .error_code = led ? SL_KERR_NONE : SL_KERR_LEADER_NOT_AVAILABLE,
            .partition_index = (int32_t)p,
            .leader_id = led ? mp->leader : -1,
            .leader_epoch = mp->leader_epoch,
            .replica_nodes = mp->replicas.ids,
            .replica_nodes_count = mp->replicas.count,
            .isr_nodes = mp->isr.ids,
            .isr_nodes_count = mp->isr.count,
            .offline_replicas = offline,
            .offline_replicas_count = offline_count,
        };
    }
    o->error_code = SL_KERR_NONE;
    o->name = sl_slice_from_str(topic->name);
    o->topic_id = topic->id;
    o->is_internal = topic->internal;
    o->partitions = parts;
    o->partitions_count = (int32_t)n;
    return 0;
}

/* Fills o with topic's partitions: this broker leads every one, alone in replicas and ISR. */
static int describe_topic(sl_request_t *req, sl_topic_t *topic, sl_metadata_response_topic_t *o)
{
    if (req->broker->cluster != NULL)
        return describe_cluster_topic(req, topic, o);
    int32_t node = req->broker->cfg->node_id;
    size_t count = (size_t)topic->partition_count;
    sl_metadata_response_partition_t *parts = sl_arena_alloc(&req->arena, count * sizeof(*parts));
    int32_t *self = sl_arena_alloc(&req->arena, sizeof(*self));
    if (parts == NULL || self == NULL)
        return SL_ELIMIT;
    *self = node;
    for (size_t p = 0; p < count; p++)
        parts[p] = (sl_metadata_response_partition_t){
            .error_code = SL_KERR_NONE,
            .partition_index = (int32_t)p,
            .leader_id = node,
            .leader_epoch = topic->partitions[p].leader_epoch,
            .replica_nodes = self,
            .replica_nodes_count = 1,
            .isr_nodes = self,
            .isr_nodes_count = 1,
            .offline_replicas = NULL,
            .offline_replicas_count = 0,
        };
    o->error_code = SL_KERR_NONE;
    o->name = sl_slice_from_str(topic->name);
    o->topic_id = topic->id;
    o->is_internal = topic->internal;
    o->partitions = parts;
    o->partitions_count = (int32_t)count;
    return 0;
}

typedef struct {
    sl_request_t *req;
    sl_metadata_response_topic_t *out;
    size_t count;
    int rc;
} all_topics_t;

static bool describe_each(sl_topic_t *topic, void *data)
{
    all_topics_t *all = data;
    sl_metadata_response_topic_t *o = &all->out[all->count++];
    *o = (sl_metadata_response_topic_t){.topic_authorized_operations = INT32_MIN};
    all->rc = describe_topic(all->req, topic, o);
    return all->rc == 0;
}

static int describe_all(sl_request_t *req, sl_metadata_response_t *out)
{
    size_t count = sl__topics_count(req->broker->topics);
    all_topics_t all = {.req = req, .count = 0, .rc = 0};
    all.out = sl_arena_alloc(&req->arena, SL_MAX(count, 1) * sizeof(*all.out));
    if (all.out == NULL)
        return SL_ELIMIT;
    sl__topics_each(req->broker->topics, describe_each, &all);
    out->topics = all.out;
    out->topics_count = (int32_t)all.count;
    return all.rc;
}

/* A named topic that does not exist: created when the request and the broker allow it (Kafka
 * creates it too, but answers UNKNOWN_TOPIC_OR_PARTITION until it is ready; Sluice creates it
 * synchronously and answers with it at once). */
static sl_topic_t *maybe_create(sl_request_t *req, const sl_metadata_request_t *in,
                                const sl_metadata_request_topic_t *t)
{
    const sl_config_t *cfg = req->broker->cfg;
    if (!in->allow_auto_topic_creation || !cfg->auto_create_topics_enable ||
        !sl__topic_name_valid(t->name) ||
        (t->name.len > 1 && t->name.ptr[0] == '_' && t->name.ptr[1] == '_'))
        return NULL;
    return sl__broker_auto_create(req->broker, t->name);
}

static int describe_named(sl_request_t *req, const sl_metadata_request_t *in,
                          sl_metadata_response_t *out)
{
    size_t count = (size_t)in->topics_count;
    sl_metadata_response_topic_t *topics = sl_arena_alloc(&req->arena, count * sizeof(*topics));
    const uint8_t *repeats = repeated_topics(req, in);
    if (topics == NULL || repeats == NULL)
        return SL_ELIMIT;
    size_t answered = 0;
    for (size_t i = 0; i < count; i++) {
        const sl_metadata_request_topic_t *t = &in->topics[i];
        if (repeats[i] == SL_ALTER_AGAIN)
            continue; /* Kafka collects the names into a set: one answer per topic */
        sl_metadata_response_topic_t *o = &topics[answered++];
        *o = (sl_metadata_response_topic_t){.topic_authorized_operations = INT32_MIN};
        sl_topic_t *topic = t->name.ptr != NULL
                                ? sl__topics_find(req->broker->topics, t->name)
                                : sl__topics_find_id(req->broker->topics, &t->topic_id);
        if (topic == NULL && t->name.ptr != NULL)
            topic = maybe_create(req, in, t);
        if (topic != NULL) {
            int rc = describe_topic(req, topic, o);
            if (rc != 0)
                return rc;
            continue;
        }
        o->error_code = unknown_topic_error(t);
        if (req->broker->cluster != NULL && o->error_code == SL_KERR_UNKNOWN_TOPIC_OR_PARTITION &&
            in->allow_auto_topic_creation && req->broker->cfg->auto_create_topics_enable &&
            !(t->name.len > 1 && t->name.ptr[0] == '_' && t->name.ptr[1] == '_'))
            o->error_code = SL_KERR_LEADER_NOT_AVAILABLE; /* asked of the controller: retry */
        o->name = t->name;
        o->topic_id = t->topic_id;
    }
    out->topics = topics;
    out->topics_count = (int32_t)answered;
    return 0;
}

int sl__handle_metadata(sl_request_t *req, const void *request, void *response)
{
    const sl_metadata_request_t *in = request;
    sl_metadata_response_t *out = response;
    int16_t version = req->header.api_version;
    if (refuses_topic_ids(version, in))
        return error_response(req, in, out, SL_KERR_INVALID_REQUEST);
    int rc = fill_brokers(req, out);
    if (rc != 0)
        return rc;
    out->throttle_time_ms = 0;
    out->cluster_id = sl_slice_from_str(req->broker->cluster_id_text);
    out->controller_id = req->broker->cluster != NULL
                             ? sl__cluster_client_controller_id(req->broker->cluster)
                             : req->broker->cfg->node_id;
    /* Without an authorizer every operation is allowed, which Kafka reports as this bit set:
     * CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
     */
    if (in->include_cluster_authorized_operations)
        out->cluster_authorized_operations = SL_CLUSTER_OPERATIONS_ALL;
    /* All topics: v0 an empty list, v1+ null. */
    if (in->topics_count < 0 || (version == 0 && in->topics_count == 0))
        return describe_all(req, out);
    if (in->topics_count == 0) {
        out->topics_count = 0;
        return 0;
    }
    return describe_named(req, in, out);
}
