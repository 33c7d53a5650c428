/* OffsetDelete (key 47, version 0): removes committed offsets of partitions the group does not
 * consume (GROUP_SUBSCRIBED_TO_TOPIC for a topic a member subscribes to; a group with members of
 * another protocol type than "consumer" is NON_EMPTY_GROUP). Tombstones are written. */
#include "../broker_int.h"

static int16_t group_error(sl_request_t *req, sl_slice_t group_id)
{
    sl_kerr_t coordinator = sl__groups_coordinator_error(req->broker, group_id);
    if (coordinator != SL_KERR_NONE)
        return coordinator;
    sl_group_view_t v;
    if (!sl_group_describe(req->broker->groups->coord, group_id, &v))
        return SL_KERR_GROUP_ID_NOT_FOUND;
    if (v.members_count > 0 && !sl_slice_eq_str(v.protocol_type, "consumer"))
        return SL_KERR_NON_EMPTY_GROUP;
    return SL_KERR_NONE;
}

int sl__handle_offset_delete(sl_request_t *req, const void *request, void *response)
{
    const sl_offset_delete_request_t *in = request;
    sl_offset_delete_response_t *out = response;
    sl_group_coordinator_t *coord = req->broker->groups->coord;
    out->throttle_time_ms = 0;
    out->error_code = group_error(req, in->group_id);
    if (out->error_code != SL_KERR_NONE)
        return 0;
    size_t nt = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    sl_offset_delete_response_topic_t *ts = sl_arena_alloc(&req->arena, (nt + 1) * sizeof(*ts));
    if (ts == NULL)
        return SL_ELIMIT;
    for (size_t t = 0; t < nt; t++) {
        const sl_offset_delete_request_topic_t *it = &in->topics[t];
        size_t np = it->partitions_count > 0 ? (size_t)it->partitions_count : 0;
        sl_offset_delete_response_partition_t *ps =
            sl_arena_alloc(&req->arena, (np + 1) * sizeof(*ps));
        if (ps == NULL)
            return SL_ELIMIT;
        bool subscribed = sl_group_subscribed(coord, in->group_id, it->name);
        sl_topic_t *topic = sl__topics_find(req->broker->topics, it->name);
        for (size_t i = 0; i < np; i++) {
            int32_t p = it->partitions[i].partition_index;
            int16_t err = SL_KERR_NONE;
            if (topic == NULL || p < 0 || p >= topic->partition_count)
                err = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (subscribed)
                err = SL_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
            else if (sl_group_offset_delete(coord, in->group_id, it->name, p))
                sl__offsets_delete_write(req->broker, in->group_id, it->name, p);
            ps[i] = (sl_offset_delete_response_partition_t){p, err};
        }
        ts[t] = (sl_offset_delete_response_topic_t){it->name, ps, (int32_t)np};
    }
    out->topics = ts;
    out->topics_count = (int32_t)nt;
    return 0;
}
