/* OffsetForLeaderEpoch (key 23, versions 0-4 as Kafka 3.9): for each partition, the end offset of
 * the asked leader epoch, answered from the log's leader-epoch-checkpoint entries. Consumers ask it
 * after a leader change (KIP-320): if the end offset of the epoch they last fetched in is below
 * their position, the log they read was truncated. Followers in Kafka ask it too; Sluice's Raft
 * replicas find divergence through Fetch's DivergingEpoch instead. Served by the partition's leader
 * only (NOT_LEADER_OR_FOLLOWER elsewhere), with the usual epoch fencing. */
#include "../broker_int.h"

/* Kafka's LeaderEpochFileCache.endOffsetFor: the requested epoch itself when it is the latest one
 * (its end is the log end); else the largest known epoch at or below it (the requested one when
 * none is below) ending where the next larger epoch starts; UNDEFINED (-1, -1) when the epoch is
 * above every known one or there are none. */
void sl__epoch_end_offset(const sl_log_epoch_t *epochs, size_t count, int64_t log_end_offset,
                          int32_t requested, int32_t *epoch_out, int64_t *end_offset_out)
{
    *epoch_out = -1;
    *end_offset_out = -1;
    if (requested < 0 || count == 0)
        return;
    if (epochs[count - 1].epoch == requested) {
        *epoch_out = requested;
        *end_offset_out = log_end_offset;
        return;
    }
    size_t higher = 0; /* the first entry with an epoch above the requested one */
    while (higher < count && epochs[higher].epoch <= requested)
        higher++;
    if (higher == count)
        return; /* above every known epoch */
    *epoch_out = higher == 0 ? requested : epochs[higher - 1].epoch;
    *end_offset_out = epochs[higher].start_offset;
}

static void answer_partition(sl_request_t *req, sl_topic_t *topic,
                             const sl_offset_for_leader_partition_t *in,
                             sl_offset_for_leader_epoch_response_epoch_end_offset_t *out)
{
    sl_offset_for_leader_epoch_response_epoch_end_offset_init(out);
    out->partition = in->partition;
    if (topic == NULL || in->partition < 0 || in->partition >= topic->partition_count) {
        out->error_code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    sl_partition_t *part = &topic->partitions[in->partition];
    int32_t leader_epoch = part->leader_epoch;
    sl_kerr_t not_leader = sl__partition_leader_check(req->broker, part, &leader_epoch);
    if (not_leader != SL_KERR_NONE) {
        out->error_code = not_leader;
        return;
    }
    if (in->current_leader_epoch > leader_epoch) {
        out->error_code = SL_KERR_UNKNOWN_LEADER_EPOCH;
        return;
    }
    if (in->current_leader_epoch >= 0 && in->current_leader_epoch < leader_epoch) {
        out->error_code = SL_KERR_FENCED_LEADER_EPOCH;
        return;
    }
    size_t count = 0;
    const sl_log_epoch_t *epochs = sl_log_leader_epochs(part->log, &count);
    sl__epoch_end_offset(epochs, count, sl_log_end_offset(part->log), in->leader_epoch,
                         &out->leader_epoch, &out->end_offset);
    out->error_code = SL_KERR_NONE;
}

int sl__handle_offset_for_leader_epoch(sl_request_t *req, const void *request, void *response)
{
    const sl_offset_for_leader_epoch_request_t *in = request;
    sl_offset_for_leader_epoch_response_t *out = response;
    size_t topics = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    out->throttle_time_ms = 0;
    out->topics = sl_arena_alloc(&req->arena, (topics + 1) * sizeof(*out->topics));
    if (out->topics == NULL)
        return SL_ELIMIT;
    out->topics_count = (int32_t)topics;
    for (size_t t = 0; t < topics; t++) {
        const sl_offset_for_leader_topic_t *ti = &in->topics[t];
        sl_offset_for_leader_topic_result_t *to = &out->topics[t];
        size_t parts = ti->partitions_count > 0 ? (size_t)ti->partitions_count : 0;
        sl_offset_for_leader_topic_result_init(to);
        to->topic = ti->topic;
        to->partitions = sl_arena_alloc(&req->arena, (parts + 1) * sizeof(*to->partitions));
        if (to->partitions == NULL)
            return SL_ELIMIT;
        to->partitions_count = (int32_t)parts;
        sl_topic_t *topic = sl__topics_find(req->broker->topics, ti->topic);
        for (size_t p = 0; p < parts; p++)
            answer_partition(req, topic, &ti->partitions[p], &to->partitions[p]);
    }
    return 0;
}
