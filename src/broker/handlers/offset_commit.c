/* OffsetCommit (key 8, versions 0-9): the group checks (generation, member, rebalance state) come
 * from the coordinator, then every partition is checked (known topic and partition, metadata at
 * most offset.metadata.max.bytes). Accepted offsets are written to __consumer_offsets and stored
 * once that write is durable (sl__offsets_commit), so an answered commit survives a crash. */
#include "../broker_int.h"

#define SL_OFFSET_METADATA_MAX_BYTES 4096

static int16_t partition_error(sl_request_t *req, sl_slice_t topic_name,
                               const sl_offset_commit_request_partition_t *p)
{
    sl_topic_t *topic = sl__topics_find(req->broker->topics, topic_name);
    if (topic == NULL || p->partition_index < 0 || p->partition_index >= topic->partition_count)
        return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (p->committed_metadata.len > SL_OFFSET_METADATA_MAX_BYTES)
        return SL_KERR_OFFSET_METADATA_TOO_LARGE;
    return SL_KERR_NONE;
}

int sl__handle_offset_commit(sl_request_t *req, const void *request, void *response)
{
    const sl_offset_commit_request_t *in = request;
    sl_offset_commit_response_t *out = response;
    int16_t v = req->header.api_version;
    int32_t generation = v >= 1 ? in->generation_id_or_member_epoch : -1;
    sl_slice_t member = v >= 1 ? in->member_id : sl_slice_from_str("");
    sl_slice_t instance = v >= 7 ? in->group_instance_id : SL_SLICE_NULL;
    int16_t group_err = sl_group_commit_check(req->broker->groups->coord, in->group_id, generation,
                                              member, instance);
    size_t nt = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    sl_offset_commit_response_topic_t *ts = sl_arena_alloc(&req->arena, (nt + 1) * sizeof(*ts));
    sl__offsets_commit_t *commit = sl__offsets_commit_new(req, in->group_id);
    if (ts == NULL || commit == NULL)
        return SL_ELIMIT;
    int64_t now_ms = sl_clock_realtime_ms();
    for (size_t t = 0; t < nt; t++) {
        const sl_offset_commit_request_topic_t *it = &in->topics[t];
        size_t np = it->partitions_count > 0 ? (size_t)it->partitions_count : 0;
        sl_offset_commit_response_partition_t *ps =
            sl_arena_alloc(&req->arena, (np + 1) * sizeof(*ps));
        if (ps == NULL)
            return SL_ELIMIT;
        for (size_t i = 0; i < np; i++) {
            const sl_offset_commit_request_partition_t *p = &it->partitions[i];
            int16_t err = group_err != SL_KERR_NONE ? group_err : partition_error(req, it->name, p);
            ps[i] = (sl_offset_commit_response_partition_t){p->partition_index, err};
            if (err != SL_KERR_NONE)
                continue;
            sl_group_offset_t o = {
                .offset = p->committed_offset,
                .leader_epoch = v >= 6 ? p->committed_leader_epoch : -1,
                .metadata = p->committed_metadata.ptr != NULL ? p->committed_metadata
                                                              : sl_slice_from_str(""),
                .commit_timestamp_ms =
                    v == 1 && p->commit_timestamp >= 0 ? p->commit_timestamp : now_ms,
            };
            int rc = sl__offsets_commit_add(commit, it->name, p->partition_index, &o, &ps[i]);
            if (rc != 0)
                return rc;
        }
        ts[t] = (sl_offset_commit_response_topic_t){it->name, ps, (int32_t)np};
    }
    out->throttle_time_ms = 0;
    out->topics = ts;
    out->topics_count = (int32_t)nt;
    return sl__offsets_commit_submit(commit);
}
