/* DescribeProducers (key 61, v0): the active idempotent producers of each partition asked for, from
 * the partition's producer state (id, epoch, last sequence, last timestamp; no transactions yet,
 * so coordinator epoch and transaction start offset are -1). Unknown topics and partitions get
 * UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers. Entries are answered as given, in request order.
 * Invariants: everything answered lives in the request arena; the log state is only read. */
#include "../broker_int.h"

/* Producers listed per partition; the state is bounded by what idempotent clients created within
 * producer.id.expiration.ms, and one response must stay encodable. */
#define PRODUCERS_PER_PARTITION_MAX 100000

static void describe_one(sl_request_t *req, sl_topic_t *topic, int32_t index,
                         sl_partition_response_t *out)
{
    *out = (sl_partition_response_t){.partition_index = index, .error_message = SL_SLICE_NULL};
    if (topic == NULL || index < 0 || index >= topic->partition_count) {
        out->error_code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        /* Kafka says why only for a topic it does not have, not for a partition beyond it */
        if (topic == NULL)
            out->error_message = sl_slice_from_str("This server does not host this "
                                                   "topic-partition.");
        return;
    }
    sl_log_t *log = topic->partitions[index].log;
    if (log == NULL) { /* its replication stopped here */
        out->error_code = SL_KERR_NOT_LEADER_OR_FOLLOWER;
        return;
    }
    size_t count = SL_MIN(sl_log_producers(log, NULL, 0), (size_t)PRODUCERS_PER_PARTITION_MAX);
    sl_producer_info_t *infos = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*infos));
    out->active_producers =
        sl_arena_alloc(&req->arena, (count + 1) * sizeof(*out->active_producers));
    if (infos == NULL || out->active_producers == NULL) {
        out->error_code = SL_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    size_t n = SL_MIN(sl_log_producers(log, infos, count), count);
    for (size_t i = 0; i < n; i++)
        out->active_producers[i] = (sl_producer_state_t){
            .producer_id = infos[i].producer_id,
            .producer_epoch = infos[i].producer_epoch,
            .last_sequence = infos[i].last_sequence,
            .last_timestamp = infos[i].last_timestamp,
            .coordinator_epoch = -1,
            .current_txn_start_offset = infos[i].current_txn_start_offset,
        };
    out->active_producers_count = (int32_t)n;
    out->error_code = SL_KERR_NONE;
}

int sl__handle_describe_producers(sl_request_t *req, const void *request, void *response)
{
    const sl_describe_producers_request_t *in = request;
    sl_describe_producers_response_t *out = response;
    size_t count = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    out->throttle_time_ms = 0;
    out->topics = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*out->topics));
    if (out->topics == NULL)
        return SL_ELIMIT;
    out->topics_count = (int32_t)count;
    for (size_t t = 0; t < count; t++) {
        const sl_describe_producers_request_topic_request_t *ti = &in->topics[t];
        sl_topic_response_t *to = &out->topics[t];
        size_t n = ti->partition_indexes_count > 0 ? (size_t)ti->partition_indexes_count : 0;
        *to = (sl_topic_response_t){.name = ti->name};
        to->partitions = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*to->partitions));
        if (to->partitions == NULL)
            return SL_ELIMIT;
        to->partitions_count = (int32_t)n;
        sl_topic_t *topic =
            sl__topic_name_valid(ti->name) ? sl__topics_find(req->broker->topics, ti->name) : NULL;
        for (size_t p = 0; p < n; p++)
            describe_one(req, topic, ti->partition_indexes[p], &to->partitions[p]);
    }
    return 0;
}
