/* Metadata (key 3): the brokers, the cluster id, the controller and the topics. Until the log
 * store exists there are no topics: a named topic answers UNKNOWN_TOPIC_OR_PARTITION (or
 * INVALID_TOPIC_EXCEPTION for a name Kafka would reject), a topic id UNKNOWN_TOPIC_ID. */
#include <string.h>

#include "../broker_int.h"

#define SL_CLUSTER_OPERATIONS_ALL 8096

/* Kafka's Topic.validate: 1..249 of [a-zA-Z0-9._-], and not "." or "..". */
static bool topic_name_valid(sl_slice_t name)
{
    if (name.ptr == NULL || name.len == 0 || name.len > SL_TOPIC_NAME_BYTES_MAX)
        return false;
    if ((name.len == 1 && name.ptr[0] == '.') ||
        (name.len == 2 && name.ptr[0] == '.' && name.ptr[1] == '.'))
        return false;
    for (size_t i = 0; i < name.len; i++) {
        uint8_t c = name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

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
    return topic_name_valid(t->name) ? SL_KERR_UNKNOWN_TOPIC_OR_PARTITION
                                     : SL_KERR_INVALID_TOPIC_EXCEPTION;
}

/* Whether topics[i] repeats an earlier entry (same name, or same id for a nameless entry). The
 * list is bounded by the request's size, so the quadratic scan is bounded too. */
static bool asked_before(const sl_metadata_request_topic_t *topics, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (topics[i].name.ptr != NULL
                ? sl_slice_eq(topics[j].name, topics[i].name)
                : topics[j].name.ptr == NULL &&
                      memcmp(&topics[j].topic_id, &topics[i].topic_id, sizeof(sl_uuid_t)) == 0)
            return true;
    }
    return false;
}

static int fill_brokers(sl_request_t *req, sl_metadata_response_t *out)
{
    const sl_broker_t *broker = req->broker;
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
    out->controller_id = req->broker->cfg->node_id;
    /* Without an authorizer every operation is allowed, which Kafka reports as this bit set:
     * CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
     */
    if (in->include_cluster_authorized_operations)
        out->cluster_authorized_operations = SL_CLUSTER_OPERATIONS_ALL;
    /* All topics (v0: an empty list; v1+: null) is the empty set until topics exist. */
    bool all_topics = in->topics_count < 0 || (version == 0 && in->topics_count == 0);
    if (all_topics || in->topics_count == 0) {
        out->topics_count = 0;
        return 0;
    }
    size_t count = (size_t)in->topics_count;
    sl_metadata_response_topic_t *topics = sl_arena_alloc(&req->arena, count * sizeof(*topics));
    if (topics == NULL)
        return SL_ELIMIT;
    size_t answered = 0;
    for (size_t i = 0; i < count; i++) {
        const sl_metadata_request_topic_t *t = &in->topics[i];
        if (asked_before(in->topics, i))
            continue; /* Kafka collects the names into a set: one answer per topic */
        sl_metadata_response_topic_t *o = &topics[answered++];
        *o = (sl_metadata_response_topic_t){0};
        o->topic_authorized_operations = INT32_MIN; /* "not computed", the schema's default */
        o->error_code = unknown_topic_error(t);
        o->name = t->name;
        o->topic_id = t->topic_id;
        o->partitions_count = 0;
    }
    count = answered;
    out->topics = topics;
    out->topics_count = (int32_t)count;
    return 0;
}
