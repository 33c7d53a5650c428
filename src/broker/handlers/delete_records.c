/* DeleteRecords (key 21, v0-2): moves each partition's log start offset (offset -1 means the high
 * watermark) and answers the new low watermark; beyond the high watermark, or negative, is
 * OFFSET_OUT_OF_RANGE. One replica, so the answer needs no wait for followers. Entries are
 * answered as given, in request order (Kafka folds repeated partitions into one answer).
 * Invariants: a moved start is durable (its checkpoint written) before it is answered. */
#include "../broker_int.h"

/* Kafka's DeleteRecordsRequest.HIGH_WATERMARK. */
#define DELETE_TO_HIGH_WATERMARK (-1)

static void delete_one(sl_topic_t *topic, const sl_delete_records_partition_t *in,
                       sl_delete_records_partition_result_t *out)
{
    *out = (sl_delete_records_partition_result_t){.partition_index = in->partition_index,
                                                  .low_watermark = -1};
    if (topic == NULL || in->partition_index < 0 || in->partition_index >= topic->partition_count) {
        out->error_code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    sl_log_t *log = topic->partitions[in->partition_index].log;
    SL_ASSERT(log != NULL);
    int64_t offset =
        in->offset == DELETE_TO_HIGH_WATERMARK ? sl_log_high_watermark(log) : in->offset;
    int rc = sl_log_delete_records(log, offset);
    switch (rc) {
    case 0:
        out->low_watermark = sl_log_start_offset(log);
        SL_ASSERT(out->low_watermark >= offset);
        return;
    case SL_LOG_EOUTOFRANGE:
        out->error_code = SL_KERR_OFFSET_OUT_OF_RANGE;
        return;
    case SL_ECLOSED:
        out->error_code = SL_KERR_NOT_LEADER_OR_FOLLOWER; /* shutting down: try elsewhere */
        return;
    default:
        SL_LOG_RATELIMITED(SL_LOG_WARN, "broker",
                           "delete records failed topic=%s partition=%d error=\"%s\"", topic->name,
                           (int)in->partition_index, sl_strerror(rc));
        out->error_code = SL_KERR_KAFKA_STORAGE_ERROR;
        return;
    }
}

int sl__handle_delete_records(sl_request_t *req, const void *request, void *response)
{
    const sl_delete_records_request_t *in = request;
    sl_delete_records_response_t *out = response;
    size_t count = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    out->throttle_time_ms = 0;
    out->topics = sl_arena_alloc(&req->arena, (count + 1) * sizeof(*out->topics));
    if (out->topics == NULL)
        return SL_ELIMIT;
    out->topics_count = (int32_t)count;
    for (size_t t = 0; t < count; t++) {
        const sl_delete_records_topic_t *ti = &in->topics[t];
        sl_delete_records_topic_result_t *to = &out->topics[t];
        size_t n = ti->partitions_count > 0 ? (size_t)ti->partitions_count : 0;
        *to = (sl_delete_records_topic_result_t){.name = ti->name};
        to->partitions = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*to->partitions));
        if (to->partitions == NULL)
            return SL_ELIMIT;
        to->partitions_count = (int32_t)n;
        sl_topic_t *topic =
            sl__topic_name_valid(ti->name) ? sl__topics_find(req->broker->topics, ti->name) : NULL;
        for (size_t p = 0; p < n; p++)
            delete_one(topic, &ti->partitions[p], &to->partitions[p]);
    }
    return 0;
}
