/* DeleteTopics (key 20, versions 0-6): by name (every version) or by topic id (v6). The topic
 * leaves the topics record first, then its partitions' directories are removed. */
#include <string.h>

#include "../broker_int.h"

static void delete_one(sl_request_t *req, sl_slice_t name, const sl_uuid_t *id,
                       sl_deletable_topic_result_t *out)
{
    sl_broker_t *broker = req->broker;
    *out = (sl_deletable_topic_result_t){.name = name, .error_message = SL_SLICE_NULL};
    if (id != NULL)
        out->topic_id = *id;
    sl_topic_t *topic = name.ptr != NULL ? sl__topics_find(broker->topics, name)
                                         : sl__topics_find_id(broker->topics, id);
    if (!broker->cfg->delete_topic_enable) {
        out->error_code = SL_KERR_TOPIC_DELETION_DISABLED;
        return;
    }
    if (topic == NULL) {
        out->error_code =
            name.ptr != NULL ? SL_KERR_UNKNOWN_TOPIC_OR_PARTITION : SL_KERR_UNKNOWN_TOPIC_ID;
        out->error_message = sl_slice_from_str(sl_kerr_message(out->error_code));
        return;
    }
    out->name = sl_slice_from_str(sl_arena_strndup(&req->arena, topic->name, strlen(topic->name)));
    out->topic_id = topic->id;
    int rc = sl__topics_delete(broker->topics, topic);
    out->error_code = rc == 0 ? SL_KERR_NONE : SL_KERR_KAFKA_STORAGE_ERROR;
}

int sl__handle_delete_topics(sl_request_t *req, const void *request, void *response)
{
    int routed;
    if (sl__cluster_route_admin(req, request, response, &routed))
        return routed; /* quorum mode: the active controller decides */
    const sl_delete_topics_request_t *in = request;
    sl_delete_topics_response_t *out = response;
    bool by_state = req->header.api_version >= 6;
    int32_t count = by_state ? in->topics_count : in->topic_names_count;
    size_t n = count > 0 ? (size_t)count : 0;
    sl_deletable_topic_result_t *results = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*results));
    if (results == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        if (by_state)
            delete_one(req, in->topics[i].name, &in->topics[i].topic_id, &results[i]);
        else
            delete_one(req, in->topic_names[i], NULL, &results[i]);
    }
    out->throttle_time_ms = 0;
    out->responses = results;
    out->responses_count = (int32_t)n;
    return 0;
}
