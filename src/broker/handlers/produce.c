/* Produce (key 0, versions 0-11): validates each partition's record batch (header, CRC and every
 * record), appends the client's bytes as they came (the log patches the base offset and leader
 * epoch in place in the request frame, no copy), and answers once every append completed:
 * acks=all once fdatasync'ed (group commit), acks=1 too under storage.sync.policy=ack (see
 * wait_for_sync), else once written. acks=0 is answered by silence, but only after the appends
 * completed, since they write straight from the request's bytes; if any partition failed, the
 * connection is closed, as Kafka does, so the client notices.
 * Batches of idempotent producers pass the partition's producer state first (check_producer): a
 * retried batch is answered with its original's offset instead of being stored twice.
 * Produce v0-2 can only carry magic 0/1 batches, which Sluice does not store: every partition gets
 * UNSUPPORTED_FOR_MESSAGE_FORMAT (a deliberate difference: Kafka 4.0 closes the connection). */
#include <stdio.h>
#include <string.h>

#include "../broker_int.h"
#include "replica_manager.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

typedef struct produce produce_t;

typedef struct {
    sl_log_append_t append;             /* first: the callback gets it back */
    sl_replica_append_t replica_append; /* a replicated partition's: through its Raft group */
    produce_t *produce;
    sl_partition_produce_response_t *out;
    sl_log_t *log;
    int64_t base_offset, append_time;
} partition_append_t;

struct produce {
    sl_request_t *req;
    size_t appends_pending;
    bool any_failed;
    bool acks_zero;
    bool acks_one;
};

static sl_kerr_t kerr_from_append(int rc)
{
    switch (rc) {
    case -EIO:
    case -ENOSPC: /* a write error takes the log dir offline; Kafka's KafkaStorageException */
    case -EDQUOT:
        return SL_KERR_KAFKA_STORAGE_ERROR;
    case SL_EMALFORMED:
        return SL_KERR_CORRUPT_MESSAGE;
    case SL_ECLOSED:
        return SL_KERR_NOT_LEADER_OR_FOLLOWER; /* stopping: the client retries elsewhere */
    default:
        return SL_KERR_UNKNOWN_SERVER_ERROR;
    }
}

static void produce_finish(produce_t *produce)
{
    SL_ASSERT(produce->req->broker->produces_waiting > 0);
    produce->req->broker->produces_waiting--;
    int status = 0;
    if (produce->acks_zero)
        status = produce->any_failed ? SL_EMALFORMED : SL_ENORESPONSE;
    sl__request_finish(produce->req, status);
}

static void append_done(sl_log_append_t *append, int status, void *data)
{
    partition_append_t *pa = data;
    SL_ASSERT(&pa->append == append);
    produce_t *produce = pa->produce;
    if (status == 0) {
        pa->out->error_code = SL_KERR_NONE;
        pa->out->base_offset = pa->base_offset;
        pa->out->log_append_time_ms = pa->append_time;
        pa->out->log_start_offset = sl_log_start_offset(pa->log);
    } else {
        pa->out->error_code = kerr_from_append(status);
        produce->any_failed = true;
    }
    SL_ASSERT(produce->appends_pending > 0);
    if (--produce->appends_pending == 0)
        produce_finish(produce);
}

/* A replicated partition's batch reached the high watermark (acks=all) or the leader's disk. */
static void replica_append_done(sl_replica_append_t *append, sl_kerr_t error, void *data)
{
    partition_append_t *pa = data;
    SL_ASSERT(&pa->replica_append == append);
    produce_t *produce = pa->produce;
    pa->out->error_code = error;
    if (error == SL_KERR_NONE) {
        pa->out->base_offset = pa->base_offset;
        pa->out->log_append_time_ms = pa->append_time;
        pa->out->log_start_offset = sl_log_start_offset(pa->log);
    } else {
        produce->any_failed = true;
    }
    SL_ASSERT(produce->appends_pending > 0);
    if (--produce->appends_pending == 0)
        produce_finish(produce);
}

static sl_kerr_t kerr_from_verdict(sl_batch_verdict_t verdict, const char **msg)
{
    switch (verdict) {
    case SL_BATCH_OK:
        return SL_KERR_NONE;
    case SL_BATCH_CORRUPT:
        *msg = "The record batch failed its CRC or length checks.";
        return SL_KERR_CORRUPT_MESSAGE;
    case SL_BATCH_OLD_MAGIC:
        *msg = "Record batches of magic 0 and 1 are not accepted; use magic 2.";
        return SL_KERR_INVALID_RECORD;
    case SL_BATCH_NOT_ONE_BATCH:
        *msg = "Produce requests with version 3+ must have exactly one record batch per partition.";
        return SL_KERR_INVALID_RECORD;
    case SL_BATCH_INVALID:
    default:
        *msg = "The record batch is not valid (record count, control flag or sequence).";
        return SL_KERR_INVALID_RECORD;
    }
}

/* CreateTime topics bound how far a timestamp may lie from the broker's clock. The batch header
 * gives the first record's timestamp and the largest; the records stay undecoded. */
static bool timestamps_in_range(const sl_topic_t *topic, const sl_record_batch_t *batch)
{
    int64_t now = sl_clock_realtime_ms();
    int64_t before = topic->timestamp_before_max_ms, after = topic->timestamp_after_max_ms;
    if (before < INT64_MAX && now - before > batch->base_timestamp)
        return false;
    if (after < INT64_MAX && now < INT64_MAX - after && batch->max_timestamp > now + after)
        return false;
    return true;
}

typedef struct {
    int32_t expected_delta;
    bool needs_key;
    bool null_key;
} record_check_t;

static int check_record(const sl_record_t *rec, void *data)
{
    record_check_t *check = data;
    if (rec->offset_delta != check->expected_delta++)
        return 1;
    if (check->needs_key && rec->key.ptr == NULL) {
        check->null_key = true;
        return 1;
    }
    return 0;
}

/* Kafka decodes every record of a produced batch (decompressing it) before accepting it: a batch
 * whose records do not add up to its header never reaches the log, so no consumer can choke on it.
 */
static sl_kerr_t check_records(sl_broker_t *broker, const sl_topic_t *topic,
                               const sl_slice_t *records, const char **msg)
{
    record_check_t check = {.expected_delta = 0, .needs_key = topic->compacted};
    int rc = sl_records_iterate(records->ptr, records->len, &broker->records_scratch, check_record,
                                &check);
    if (broker->records_scratch.cap > SL_RECORDS_SCRATCH_BYTES_MIN * 16)
        sl_buf_deinit(&broker->records_scratch); /* keep no multi-MiB buffer between requests */
    if (rc == 0)
        return SL_KERR_NONE;
    if (check.null_key) {
        *msg = "Compacted topic cannot accept message without key.";
        return SL_KERR_INVALID_RECORD;
    }
    if (rc == 1 || rc == SL_EMALFORMED) {
        *msg = "The records do not match the batch header (count, offsets, lengths or bytes left).";
        return SL_KERR_INVALID_RECORD;
    }
    *msg = rc == SL_EUNSUPPORTED ? "Unknown compression codec." : "The batch does not decompress.";
    return SL_KERR_CORRUPT_MESSAGE;
}

/* acks=all waits for the fdatasync that covers the append. So does acks=1 under
 * storage.sync.policy=ack: the only copy is this broker's, so "acknowledged" means on disk, and the
 * high watermark (the synced end) already covers the record when the client hears back, as Kafka's
 * read-your-writes expects. Under interval, acks=1 is answered once written (Kafka's behaviour). */
static bool wait_for_sync(const produce_t *produce, const sl_partition_t *partition)
{
    if (partition->replica != NULL)
        return true; /* a replicated duplicate is answered once its original is committed */
    const sl_topic_t *topic = partition->topic;
    if (produce->acks_zero)
        return false;
    return !produce->acks_one || topic->log_config.sync_on_ack;
}

/* Idempotent producers (producer_id >= 0): the partition's producer state judges the batch before
 * it is appended (the log records the state itself when the append is submitted, so a retry that
 * arrives while the original is still in flight is already a duplicate). A duplicate is answered
 * with the original's base offset and timestamp and not appended again (*duplicate set); when an
 * answer must wait for the sync and the original is not covered yet, the client is told to retry
 * (Kafka would hold the answer until it is). */
static sl_kerr_t check_producer(const produce_t *produce, const sl_partition_t *partition,
                                const sl_record_batch_t *batch,
                                sl_partition_produce_response_t *out, bool *duplicate)
{
    sl_log_t *log = partition->log;
    *duplicate = false;
    if (batch->producer_id < 0)
        return SL_KERR_NONE;
    int64_t base_offset = -1, append_time = -1;
    out->log_start_offset = sl_log_start_offset(log); /* Kafka's errors here carry it too */
    switch (sl_log_producer_check(log, batch, &base_offset, &append_time)) {
    case SL_PRODUCER_OK:
        return SL_KERR_NONE;
    case SL_PRODUCER_DUPLICATE:
        SL_ASSERT(base_offset >= 0);
        if (wait_for_sync(produce, partition) && sl_log_high_watermark(log) <= base_offset)
            return SL_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND; /* retriable: same sequence again */
        *duplicate = true;
        out->base_offset = base_offset;
        out->log_append_time_ms = append_time;
        return SL_KERR_NONE;
    case SL_PRODUCER_OUT_OF_ORDER:
        return SL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case SL_PRODUCER_INVALID_EPOCH:
        return SL_KERR_INVALID_PRODUCER_EPOCH;
    case SL_PRODUCER_UNKNOWN:
    default:
        return SL_KERR_UNKNOWN_PRODUCER_ID;
    }
}

/* Checks one partition's records; on success starts its append (pending until append_done). */
static void produce_partition(produce_t *produce, sl_topic_t *topic,
                              const sl_partition_produce_data_t *in,
                              sl_partition_produce_response_t *out)
{
    sl_request_t *req = produce->req;
    const char *msg = NULL;
    out->error_code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (topic != NULL)
        topic->metrics.produce_requests++;
    if (topic == NULL || in->index < 0 || in->index >= topic->partition_count)
        return;
    sl_partition_t *part = &topic->partitions[in->index];
    int32_t leader_epoch;
    out->error_code = sl__partition_leader_check(req->broker, part, &leader_epoch);
    if (out->error_code != SL_KERR_NONE) { /* KIP-951: say who leads (v10+) */
        sl__partition_current_leader(req->broker, part, &out->current_leader.leader_id,
                                     &out->current_leader.leader_epoch);
        produce->any_failed = true;
        topic->metrics.failed_produce_requests++;
        return;
    }
    if (topic->internal) { /* Kafka: only the broker itself appends to internal topics */
        out->error_code = SL_KERR_INVALID_TOPIC_EXCEPTION;
        out->error_message = sl_slice_from_str("Cannot append to internal topic.");
        produce->any_failed = true;
        return;
    }
    sl_record_batch_t batch;
    out->error_code =
        kerr_from_verdict(sl_record_batch_validate_produce(
                              in->records.ptr, in->records.ptr ? in->records.len : 0, &batch),
                          &msg);
    if (out->error_code == SL_KERR_NONE && in->records.len > (size_t)topic->max_message_bytes) {
        out->error_code = SL_KERR_MESSAGE_TOO_LARGE;
        msg = "The batch is larger than the topic's max.message.bytes.";
    }
    if (out->error_code == SL_KERR_NONE && !topic->log_config.log_append_time &&
        !timestamps_in_range(topic, &batch)) {
        out->error_code = SL_KERR_INVALID_TIMESTAMP;
        msg = "A record timestamp is outside message.timestamp.before.max.ms / after.max.ms.";
    }
    if (out->error_code == SL_KERR_NONE)
        out->error_code = check_records(req->broker, topic, &in->records, &msg);
    if (out->error_code == SL_KERR_NONE && (batch.attributes & SL_RECORD_BATCH_TRANSACTIONAL)) {
        out->error_code = SL_KERR_INVALID_TXN_STATE;
        msg = "Transactions are not supported by this broker yet.";
    }
    bool duplicate = false;
    if (out->error_code == SL_KERR_NONE)
        out->error_code = check_producer(produce, part, &batch, out, &duplicate);
    if (duplicate)
        return; /* answered from the original; nothing to append */
    if (out->error_code != SL_KERR_NONE) {
        SL_LOG_RATELIMITED(SL_LOG_INFO, "produce",
                           "rejected batch topic=%s partition=%d error=%s len=%zu magic=%d "
                           "count=%d last_offset_delta=%d producer_id=%" PRId64 " reason=\"%s\"",
                           topic->name, (int)in->index, sl_kerr_name(out->error_code),
                           in->records.len, (int)batch.magic, (int)batch.record_count,
                           (int)batch.last_offset_delta, batch.producer_id, msg ? msg : "");
        out->error_message = msg ? sl_slice_from_str(msg) : SL_SLICE_NULL;
        produce->any_failed = true;
        topic->metrics.failed_produce_requests++;
        return;
    }
    partition_append_t *pa = sl_arena_alloc(&req->arena, sizeof(*pa));
    if (pa == NULL || sl__request_hold(req, topic) != 0) {
        out->error_code = SL_KERR_UNKNOWN_SERVER_ERROR;
        produce->any_failed = true;
        return;
    }
    *pa = (partition_append_t){.produce = produce, .out = out, .log = part->log, .append_time = -1};
    if (part->replica != NULL) {
        /* Through the Raft group: the log keeps its own copy of the batch (a follower needs the
         * leader's bytes after this request is gone). */
        int16_t acks = produce->acks_zero ? 0 : produce->acks_one ? 1 : -1;
        out->error_code = sl_partition_replica_append(part->replica, &pa->replica_append,
                                                      in->records.ptr, in->records.len, acks,
                                                      replica_append_done, pa, &pa->base_offset);
        if (out->error_code != SL_KERR_NONE) {
            sl__partition_current_leader(req->broker, part, &out->current_leader.leader_id,
                                         &out->current_leader.leader_epoch);
            produce->any_failed = true;
            topic->metrics.failed_produce_requests++;
            return;
        }
        if (topic->log_config.log_append_time)
            pa->append_time = sl_clock_realtime_ms(); /* what the log stamped, to the ms */
        topic->metrics.bytes_in += in->records.len;
        topic->metrics.messages_in += (uint64_t)SL_MAX(batch.record_count, 0);
        produce->appends_pending++;
        return;
    }
    /* The frame is ours until we answer it; the log patches offsets into it in place. */
    uint8_t *bytes = (uint8_t *)(uintptr_t)in->records.ptr;
    int rc = sl_log_append(part->log, &pa->append, bytes, in->records.len, part->leader_epoch,
                           wait_for_sync(produce, part), append_done, pa, &pa->base_offset,
                           &pa->append_time);
    if (rc != 0) {
        out->error_code = kerr_from_append(rc);
        produce->any_failed = true;
        topic->metrics.failed_produce_requests++;
        return;
    }
    topic->metrics.bytes_in += in->records.len;
    topic->metrics.messages_in += (uint64_t)SL_MAX(batch.record_count, 0);
    produce->appends_pending++;
}

/* Kafka's answer when nothing can be appended: the same error on every partition. */
static int fill_all(sl_request_t *req, const sl_produce_request_t *in, sl_produce_response_t *out,
                    produce_t *produce, sl_kerr_t error)
{
    size_t topics = in->topic_data_count > 0 ? (size_t)in->topic_data_count : 0;
    out->responses = sl_arena_alloc(&req->arena, (topics + 1) * sizeof(*out->responses));
    if (out->responses == NULL)
        return SL_ELIMIT;
    out->responses_count = (int32_t)topics;
    for (size_t t = 0; t < topics; t++) {
        const sl_topic_produce_data_t *td = &in->topic_data[t];
        sl_topic_produce_response_t *tr = &out->responses[t];
        size_t parts = td->partition_data_count > 0 ? (size_t)td->partition_data_count : 0;
        tr->name = td->name;
        tr->partition_responses =
            sl_arena_alloc(&req->arena, (parts + 1) * sizeof(*tr->partition_responses));
        if (tr->partition_responses == NULL)
            return SL_ELIMIT;
        tr->partition_responses_count = (int32_t)parts;
        for (size_t p = 0; p < parts; p++) {
            sl_partition_produce_response_t *pr = &tr->partition_responses[p];
            *pr = (sl_partition_produce_response_t){.index = td->partition_data[p].index,
                                                    .error_code = error,
                                                    .base_offset = -1,
                                                    .log_append_time_ms = -1,
                                                    .log_start_offset = -1,
                                                    .record_errors_count = 0,
                                                    .error_message = SL_SLICE_NULL};
            pr->current_leader.leader_id = -1;
            pr->current_leader.leader_epoch = -1;
        }
    }
    if (error != SL_KERR_NONE && topics > 0)
        produce->any_failed = true;
    return 0;
}

/* The topic a Produce names, created first when auto.create.topics.enable allows it. */
static sl_topic_t *produce_topic(sl_request_t *req, sl_slice_t name)
{
    sl_topic_t *topic = sl__topics_find(req->broker->topics, name);
    if (topic == NULL && req->broker->cfg->auto_create_topics_enable &&
        sl__topic_name_valid(name) && !(name.len > 1 && name.ptr[0] == '_' && name.ptr[1] == '_'))
        topic = sl__broker_auto_create(req->broker, name);
    return topic;
}

int sl__handle_produce(sl_request_t *req, const void *request, void *response)
{
    const sl_produce_request_t *in = request;
    sl_produce_response_t *out = response;
    produce_t *produce = sl_arena_alloc(&req->arena, sizeof(*produce));
    if (produce == NULL)
        return SL_ELIMIT;
    *produce = (produce_t){.req = req, .acks_zero = in->acks == 0, .acks_one = in->acks == 1};
    out->throttle_time_ms = 0;
    sl_kerr_t all_error = SL_KERR_NONE;
    if (req->header.api_version < 3)
        all_error = SL_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    else if (in->acks != 0 && in->acks != 1 && in->acks != -1)
        all_error = SL_KERR_INVALID_REQUIRED_ACKS;
    int rc = fill_all(req, in, out, produce, all_error);
    if (rc != 0 || all_error != SL_KERR_NONE)
        return rc != 0 ? rc : (produce->acks_zero && produce->any_failed ? SL_EMALFORMED : 0);
    for (int32_t t = 0; t < out->responses_count; t++) {
        const sl_topic_produce_data_t *td = &in->topic_data[t];
        sl_topic_t *topic = produce_topic(req, td->name);
        for (int32_t p = 0; p < td->partition_data_count; p++)
            produce_partition(produce, topic, &td->partition_data[p],
                              &out->responses[t].partition_responses[p]);
    }
    if (produce->appends_pending == 0)
        return produce->acks_zero ? (produce->any_failed ? SL_EMALFORMED : SL_ENORESPONSE) : 0;
    req->pending = true; /* answered from append_done */
    req->broker->produces_waiting++;
    return 0;
}
