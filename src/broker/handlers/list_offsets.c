/* ListOffsets (key 2, versions 0-9): the earliest (-2) and latest (-1) offsets, the offset of the
 * largest timestamp (-3, v7+), the earliest local offset (-4, v8+, the log start without tiered
 * storage), the latest tiered offset (-5, v9+: none, -1), or the first offset at or after a
 * timestamp, found through the time index and the batch headers (async, off the loop). Latest is
 * the high watermark: what consumers may read. Lookups by timestamp answer the exact record, as
 * Kafka does, decoding (and decompressing) the one batch that holds it. */
#include "../broker_int.h"

#define TS_LATEST (-1)
#define TS_EARLIEST (-2)
#define TS_MAX_TIMESTAMP (-3)
#define TS_EARLIEST_LOCAL (-4)
#define TS_LATEST_TIERED (-5)

typedef struct list_offsets list_offsets_t;

typedef struct {
    sl_log_lookup_t lookup;
    list_offsets_t *all;
    sl_list_offsets_partition_response_t *out;
    sl_partition_t *partition;
} lookup_t;

struct list_offsets {
    sl_request_t *req;
    size_t pending;
};

/* Version 0 answers with a list of offsets instead of one offset and timestamp. */
static int set_answer(sl_request_t *req, sl_list_offsets_partition_response_t *out, int64_t offset,
                      int64_t timestamp, int32_t leader_epoch)
{
    out->offset = offset;
    out->timestamp = timestamp;
    out->leader_epoch = offset >= 0 ? leader_epoch : -1;
    if (req->header.api_version == 0) {
        int64_t *offsets = sl_arena_alloc(&req->arena, sizeof(*offsets));
        if (offsets == NULL)
            return SL_ELIMIT;
        offsets[0] = offset;
        out->old_style_offsets = offsets;
        out->old_style_offsets_count = offset >= 0 ? 1 : 0;
    }
    return 0;
}

static void lookup_done(sl_log_lookup_t *lookup, int status, int64_t offset, int64_t timestamp,
                        void *data)
{
    lookup_t *l = data;
    SL_ASSERT(&l->lookup == lookup);
    if (status != 0)
        l->out->error_code = SL_KERR_KAFKA_STORAGE_ERROR;
    else if (set_answer(l->all->req, l->out, offset, timestamp, l->partition->leader_epoch) != 0)
        l->out->error_code = SL_KERR_UNKNOWN_SERVER_ERROR;
    SL_ASSERT(l->all->pending > 0);
    if (--l->all->pending == 0)
        sl__request_finish(l->all->req, 0);
}

static int answer_partition(list_offsets_t *all, const sl_list_offsets_request_t *in,
                            sl_topic_t *topic, const sl_list_offsets_partition_t *p,
                            sl_list_offsets_partition_response_t *out)
{
    sl_request_t *req = all->req;
    sl_list_offsets_partition_response_init(out);
    out->partition_index = p->partition_index;
    out->old_style_offsets_count = 0;
    if (topic == NULL || p->partition_index < 0 || p->partition_index >= topic->partition_count) {
        out->error_code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return 0;
    }
    sl_partition_t *part = &topic->partitions[p->partition_index];
    int32_t leader_epoch;
    sl_kerr_t not_leader = sl__partition_leader_check(req->broker, part, &leader_epoch);
    if (not_leader != SL_KERR_NONE) {
        out->error_code = not_leader;
        return 0;
    }
    if (p->current_leader_epoch > leader_epoch) {
        out->error_code = SL_KERR_UNKNOWN_LEADER_EPOCH;
        return 0;
    }
    if (p->current_leader_epoch >= 0 && p->current_leader_epoch < leader_epoch) {
        out->error_code = SL_KERR_FENCED_LEADER_EPOCH;
        return 0;
    }
    (void)in; /* isolation level: without transactions the last stable offset is the HW */
    sl_log_t *log = part->log;
    switch (p->timestamp) {
    case TS_LATEST:
        return set_answer(req, out, sl_log_high_watermark(log), -1, leader_epoch);
    case TS_EARLIEST:
    case TS_EARLIEST_LOCAL:
        return set_answer(req, out, sl_log_start_offset(log), -1, leader_epoch);
    case TS_LATEST_TIERED:
        return set_answer(req, out, -1, -1, leader_epoch);
    default:
        break;
    }
    lookup_t *l = sl_arena_alloc(&req->arena, sizeof(*l));
    if (l == NULL || sl__request_hold(req, topic) != 0)
        return SL_ELIMIT;
    *l = (lookup_t){.all = all, .out = out, .partition = part};
    /* The record with the largest timestamp (-3) and the first record at or after a timestamp
     * both need the records of one batch: read off the loop, answered in lookup_done. */
    int rc = p->timestamp == TS_MAX_TIMESTAMP
                 ? sl_log_offset_for_max_timestamp(log, &l->lookup, lookup_done, l)
                 : sl_log_offset_for_timestamp(log, &l->lookup, p->timestamp, lookup_done, l);
    if (rc != 0) {
        out->error_code = SL_KERR_KAFKA_STORAGE_ERROR;
        return 0;
    }
    all->pending++;
    return 0;
}

int sl__handle_list_offsets(sl_request_t *req, const void *request, void *response)
{
    const sl_list_offsets_request_t *in = request;
    sl_list_offsets_response_t *out = response;
    list_offsets_t *all = sl_arena_alloc(&req->arena, sizeof(*all));
    size_t topics = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    out->topics = sl_arena_alloc(&req->arena, (topics + 1) * sizeof(*out->topics));
    if (all == NULL || out->topics == NULL)
        return SL_ELIMIT;
    *all = (list_offsets_t){.req = req, .pending = 0};
    out->throttle_time_ms = 0;
    out->topics_count = (int32_t)topics;
    for (size_t t = 0; t < topics; t++) {
        const sl_list_offsets_topic_t *ti = &in->topics[t];
        sl_list_offsets_topic_response_t *to = &out->topics[t];
        size_t parts = ti->partitions_count > 0 ? (size_t)ti->partitions_count : 0;
        to->name = ti->name;
        to->partitions = sl_arena_alloc(&req->arena, (parts + 1) * sizeof(*to->partitions));
        if (to->partitions == NULL)
            return SL_ELIMIT;
        to->partitions_count = (int32_t)parts;
        sl_topic_t *topic = sl__topics_find(req->broker->topics, ti->name);
        for (size_t p = 0; p < parts; p++) {
            int rc = answer_partition(all, in, topic, &ti->partitions[p], &to->partitions[p]);
            if (rc != 0)
                return rc;
        }
    }
    /* With lookups in flight, the last one to complete answers; a lookup never completes inside
     * sl_log_offset_for_timestamp, so pending cannot reach 0 before this point. */
    req->pending = all->pending > 0;
    return 0;
}
