/* log: one partition: open/close/delete, appends (offset assignment, in-place patching, rolls) and
 * the completion queue that keeps appends completing in offset order.
 * Invariants: start <= high_watermark <= written_offset <= log_end_offset; synced_offset <=
 * written_offset; an append's callback runs only after its write completed (the op is in use
 * until then), and after the fdatasync covering it when it waits for sync. */
#include <stdio.h>
#include <string.h>

#include "log_int.h"

void sl_log_config_default(sl_log_config_t *cfg)
{
    *cfg = (sl_log_config_t){
        .segment_bytes = 1024 * 1024 * 1024,
        .segment_ms = 7 * 24 * 3600 * 1000LL,
        .retention_ms = 7 * 24 * 3600 * 1000LL,
        .retention_bytes = -1,
        .index_interval_bytes = 4096,
        .segment_index_bytes = 10 * 1024 * 1024,
        .log_append_time = false,
        .sync_on_ack = true,
        .flush_interval_messages = INT64_MAX,
        .flush_interval_ms = INT64_MAX,
        .delete_retention_ms = 24 * 3600 * 1000LL,
        .max_compaction_lag_ms = INT64_MAX,
        .min_cleanable_dirty_ratio = 0.5,
    };
}

bool sl__log_config_valid(const sl_log_config_t *cfg)
{
    return cfg->segment_bytes >= SL_BATCH_HEADER_BYTES && cfg->segment_bytes <= INT32_MAX &&
           cfg->segment_ms > 0 && cfg->index_interval_bytes >= 0 &&
           cfg->segment_index_bytes >= SL_TIME_INDEX_ENTRY_BYTES && cfg->retention_ms >= -1 &&
           cfg->retention_bytes >= -1 && cfg->delete_retention_ms >= 0 &&
           cfg->min_compaction_lag_ms >= 0 && cfg->max_compaction_lag_ms >= 0 &&
           cfg->min_cleanable_dirty_ratio >= 0 && cfg->min_cleanable_dirty_ratio <= 1;
}

void sl_log_set_config(sl_log_t *log, const sl_log_config_t *cfg)
{
    SL_ASSERT(log != NULL);
    if (!sl__log_config_valid(cfg)) {
        SL_LOG(SL_LOG_WARN, "log", "invalid log config ignored topic=%s partition=%" PRId32,
               log->topic, log->partition);
        return;
    }
    log->cfg = *cfg;
}

int64_t sl_log_start_offset(const sl_log_t *log)
{
    return log->log_start_offset;
}

int64_t sl_log_end_offset(const sl_log_t *log)
{
    return log->log_end_offset;
}

int64_t sl_log_high_watermark(const sl_log_t *log)
{
    return log->high_watermark;
}

int64_t sl_log_size_bytes(const sl_log_t *log)
{
    int64_t bytes = 0;
    for (size_t i = 0; i < log->seg_count; i++)
        bytes += (int64_t)log->segs[i]->size;
    return bytes;
}

size_t sl_log_segment_count(const sl_log_t *log)
{
    return log->seg_count;
}

int32_t sl_log_partition(const sl_log_t *log)
{
    return log->partition;
}

const char *sl_log_topic(const sl_log_t *log)
{
    return log->topic;
}

void sl_log_max_timestamp(const sl_log_t *log, int64_t *timestamp, int64_t *offset)
{
    *timestamp = log->max_timestamp;
    *offset = log->offset_of_max_timestamp;
}

void sl_log_set_hw_listener(sl_log_t *log, void (*cb)(sl_log_t *, void *), void *data)
{
    log->hw_cb = cb;
    log->hw_data = data;
}

void sl__log_set_hw(sl_log_t *log, int64_t hw)
{
    if (hw <= log->high_watermark)
        return;
    SL_ASSERT(hw <= log->log_end_offset);
    log->high_watermark = hw;
    if (log->hw_cb != NULL)
        log->hw_cb(log, log->hw_data);
}

/* ---- completion queue ---- */

void sl__log_complete_ready(sl_log_t *log)
{
    bool offline = log->dir->offline;
    log->busy++;
    for (sl_log_append_t *req = log->q_head; req != NULL; req = log->q_head) {
        if (!req->priv_write_done)
            break; /* its op is still in use, and later ones must wait their turn */
        int status = req->priv_status;
        if (status == 0 && offline)
            status = -EIO;
        if (status == 0 && !req->priv_counted)
            break;
        if (status == 0 && req->priv_wait_for_sync && log->synced_offset < req->priv_end_offset)
            break;
        log->q_head = req->priv_next;
        if (log->q_head == NULL)
            log->q_tail = NULL;
        if (log->cursor == req)
            log->cursor = req->priv_next;
        req->priv_cb(req, status, req->priv_data);
    }
    log->busy--;
}

static void append_write_callback(sl_disk_op_t *op, int64_t result, void *data)
{
    sl_log_append_t *req = data;
    sl_log_t *log = req->priv_log;
    sl_log_dir_t *dir = log->dir;
    SL_ASSERT(op == &req->priv_op);
    req->priv_write_done = true;
    req->priv_segment->ops_in_flight--;
    log->ops_in_flight--;
    if (result != (int64_t)req->priv_len) {
        req->priv_status = result < 0 ? (int)result : -EIO;
        sl__dir_go_offline(dir, req->priv_status, "write", log);
    }
    bool want_sync = false;
    while (!dir->offline && log->cursor != NULL && log->cursor->priv_write_done) {
        sl_log_append_t *c = log->cursor;
        c->priv_counted = true;
        log->written_offset = c->priv_end_offset;
        c->priv_segment->written_pos = c->priv_pos + (int64_t)c->priv_len;
        want_sync = want_sync || c->priv_wait_for_sync || sl__log_syncs_on_ack(log);
        log->cursor = c->priv_next;
    }
    /* A waiting sl_log_flush covers these writes too: a round started before they were counted
     * could not have. */
    want_sync = want_sync || (log->flush_head != NULL && log->written_offset > log->synced_offset);
    if (want_sync)
        sl__dir_want_sync(dir); /* before this write leaves the barrier: it waits for its peers */
    sl__dir_write_completed(dir, req->priv_seq);
    if (!log->cfg.sync_on_ack && !log->replicated && !dir->offline) {
        sl__log_set_hw(log, log->written_offset);
        if (log->unflushed_messages >= log->cfg.flush_interval_messages)
            sl__dir_want_sync(dir);
    }
    sl__log_complete_ready(log);
    sl__dir_op_done(dir);
}

/* ---- leader epochs ---- */

int sl__log_write_epochs(sl_log_t *log)
{
    sl_buf_t b;
    sl_buf_init(&b, 0);
    int rc = sl_buf_appendf(&b, "0\n%zu\n", log->epoch_count);
    for (size_t i = 0; rc == 0 && i < log->epoch_count; i++)
        rc = sl_buf_appendf(&b, "%" PRId32 " %" PRId64 "\n", log->epochs[i].epoch,
                            log->epochs[i].start_offset);
    char path[SL_LOG_PATH_BYTES_MAX];
    int n = snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", log->path);
    if (rc == 0 && (n < 0 || (size_t)n >= sizeof path))
        rc = -ENAMETOOLONG;
    if (rc == 0)
        rc = sl__write_file_atomic(log, path, b.ptr, b.len);
    sl_buf_deinit(&b);
    return rc;
}

static int epoch_record(sl_log_t *log, int32_t epoch, int64_t start_offset)
{
    if (epoch < 0 || (log->epoch_count > 0 && epoch <= log->epochs[log->epoch_count - 1].epoch))
        return 0;
    if (log->epoch_count == SL_LOG_EPOCHS_MAX) {
        memmove(log->epochs, log->epochs + 1, (log->epoch_count - 1) * sizeof *log->epochs);
        log->epoch_count--; /* the oldest epoch goes: Raft only needs recent ones */
    }
    if (log->epoch_count == log->epoch_cap) {
        size_t cap = log->epoch_cap ? log->epoch_cap * 2 : 8;
        sl_epoch_entry_t *p = sl_realloc(log->epochs, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        log->epochs = p;
        log->epoch_cap = cap;
    }
    log->epochs[log->epoch_count++] = (sl_epoch_entry_t){epoch, start_offset};
    return sl__log_write_epochs(log);
}

/* ---- append ---- */

static bool roll_needed(const sl_log_t *log, const sl_log_segment_t *seg, size_t len,
                        int64_t last_offset)
{
    if (seg->size == 0)
        return false;
    uint64_t now = log->dir->clock->monotonic_ms(log->dir->clock->data);
    int64_t max_oidx = log->cfg.segment_index_bytes / SL_OFFSET_INDEX_ENTRY_BYTES;
    int64_t max_tidx = log->cfg.segment_index_bytes / SL_TIME_INDEX_ENTRY_BYTES;
    return seg->size > log->cfg.segment_bytes - (int64_t)len ||
           now - seg->created_ms >= (uint64_t)log->cfg.segment_ms ||
           (int64_t)seg->oidx_count >= max_oidx || (int64_t)seg->tidx_count >= max_tidx ||
           last_offset - seg->base_offset > INT32_MAX;
}

static int roll(sl_log_t *log)
{
    sl_log_segment_t *old = log->segs[log->seg_count - 1];
    sl_log_segment_t *seg = NULL;
    int rc = sl__segment_create(log, log->log_end_offset, &seg);
    if (rc == 0 && (rc = sl__log_segments_push(log, seg)) < 0)
        sl__segment_free(log->dir, seg);
    if (rc < 0) {
        sl__dir_go_offline(log->dir, rc, "roll", log);
        return rc;
    }
    /* Kafka closes a segment's time index with its largest timestamp. */
    (void)sl__segment_index_add(old, old->next_offset - 1, 0, old->max_timestamp,
                                old->offset_of_max_timestamp, true); /* memory only: sparser */
    SL_LOG(SL_LOG_INFO, "log", "rolled segment topic=%s partition=%" PRId32 " base_offset=%" PRId64,
           log->topic, log->partition, seg->base_offset);
    /* Kafka snapshots producer state at each roll, named after the new segment. */
    rc = sl__producers_snapshot_write(log, log->log_end_offset);
    if (rc < 0) {
        sl__dir_go_offline(log->dir, rc, "producer snapshot", log);
        return rc;
    }
    if (old->synced_pos == old->size && !old->index_flushed) {
        rc = sl__segment_write_indexes(log, old);
        if (rc < 0)
            sl__dir_go_offline(log->dir, rc, "index write", log);
    }
    /* Like Kafka's flush of the rolled segment, also under the interval policy. */
    if (log->written_offset > log->synced_offset)
        sl__dir_want_sync(log->dir);
    return log->dir->offline ? -EIO : 0;
}

static void patch_batch(sl_log_t *log, uint8_t *batch, size_t len, int32_t leader_epoch,
                        int64_t base_offset, int64_t *append_time)
{
    sl__put_be64(batch + SL_BATCH_OFF_BASE_OFFSET, base_offset);
    sl__put_be32(batch + SL_BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
    *append_time = -1;
    if (!log->cfg.log_append_time)
        return;
    *append_time = log->dir->clock->realtime_ms(log->dir->clock->data);
    sl__put_be64(batch + SL_BATCH_OFF_MAX_TIMESTAMP, *append_time);
    batch[SL_BATCH_OFF_ATTRIBUTES + 1] |= SL_BATCH_ATTR_LOG_APPEND_TIME;
    uint32_t crc = sl_crc32c(0, batch + SL_BATCH_OFF_ATTRIBUTES, len - SL_BATCH_OFF_ATTRIBUTES);
    sl__put_be32(batch + SL_BATCH_OFF_CRC, crc);
}

static void append_account(sl_log_t *log, sl_log_append_t *req, const sl_batch_info_t *info,
                           int32_t leader_epoch)
{
    sl_log_segment_t *seg = req->priv_segment;
    sl__segment_note_batch(seg, info, req->priv_pos, log->cfg.index_interval_bytes);
    seg->size += (int64_t)req->priv_len;
    if (seg->created_ms == 0)
        seg->created_ms = log->dir->clock->monotonic_ms(log->dir->clock->data);
    log->log_end_offset = info->last_offset + 1;
    log->unflushed_messages += info->last_offset - info->base_offset + 1;
    if (info->max_timestamp > log->max_timestamp) {
        log->max_timestamp = info->max_timestamp;
        log->offset_of_max_timestamp = info->base_offset;
    }
    req->priv_next = NULL;
    if (log->q_tail)
        log->q_tail->priv_next = req;
    else
        log->q_head = req;
    log->q_tail = req;
    if (log->cursor == NULL)
        log->cursor = req;
    seg->ops_in_flight++;
    log->ops_in_flight++;
    log->dir->ops_in_flight++;
    req->priv_seq = sl__dir_write_submitted(log->dir);
    int rc = epoch_record(log, leader_epoch, info->base_offset);
    if (rc < 0)
        sl__dir_go_offline(log->dir, rc, "leader-epoch-checkpoint", log);
}

int sl_log_append(sl_log_t *log, sl_log_append_t *req, uint8_t *batch, size_t len,
                  int32_t leader_epoch, bool wait_for_sync, sl_log_append_cb cb, void *data,
                  int64_t *base_offset_out, int64_t *append_time_out)
{
    SL_ASSERT(log != NULL && req != NULL && cb != NULL);
    if (log->dir->closing)
        return SL_ECLOSED;
    if (log->dir->offline)
        return -EIO;
    sl_batch_info_t info;
    if (len > INT32_MAX || sl__batch_check(batch, len, false, &info) != 0 ||
        (size_t)info.batch_bytes != len)
        return SL_EMALFORMED;
    int64_t count = info.last_offset - info.base_offset + 1;
    int64_t base = log->log_end_offset;
    sl_producer_batch_ref_t producer;
    bool idempotent = sl__producer_batch_read(batch, &producer);
    if (idempotent && sl__producers_reserve(log, producer.producer_id) < 0)
        return -ENOMEM; /* nothing done yet */
    sl_log_segment_t *seg = log->segs[log->seg_count - 1];
    if (roll_needed(log, seg, len, base + count - 1)) {
        int rc = roll(log);
        if (rc < 0)
            return rc;
        seg = log->segs[log->seg_count - 1];
    }
    int64_t append_time;
    patch_batch(log, batch, len, leader_epoch, base, &append_time);
    int rc = sl__batch_check(batch, len, false, &info);
    SL_ASSERT(rc == 0 && info.base_offset == base);
    *req = (sl_log_append_t){.priv_log = log,
                             .priv_segment = seg,
                             .priv_pos = seg->size,
                             .priv_len = len,
                             .priv_end_offset = base + count,
                             .priv_wait_for_sync = wait_for_sync,
                             .priv_cb = cb,
                             .priv_data = data};
    struct iovec iov = {.iov_base = batch, .iov_len = len};
    rc = sl_disk_pwritev(&log->dir->disk, &req->priv_op, seg->fd, &iov, 1, seg->size,
                         append_write_callback, req);
    if (rc < 0)
        return rc; /* nothing accounted yet: the log is as before (bar the patched header) */
    append_account(log, req, &info, leader_epoch);
    if (idempotent) { /* at submission: a retry arriving while this is written is a duplicate */
        bool ok = sl__producer_batch_read(batch, &producer);
        SL_ASSERT(ok && producer.base_offset == base);
        sl__producers_note(log, &producer);
    }
    if (base_offset_out != NULL)
        *base_offset_out = base;
    if (append_time_out != NULL)
        *append_time_out = append_time;
    return 0;
}
