/* retention: deletes whole segments, oldest first, that are past retention.ms (by their largest
 * timestamp) or beyond retention.bytes, and moves the log start offset.
 * Invariants: the active segment is never deleted, nor a segment with I/O in flight, nor one with
 * data above the high watermark. */
#include <stdio.h>
#include <string.h>

#include "log_int.h"

static bool segment_expired(const sl_log_t *log, const sl_log_segment_t *seg, int64_t now_ms,
                            int64_t total_bytes)
{
    const sl_log_config_t *cfg = &log->cfg;
    if (cfg->compact && !cfg->compact_delete)
        return false; /* cleanup.policy=compact: the cleaner, not retention, bounds the log */
    bool by_time = cfg->retention_ms >= 0 && seg->max_timestamp >= 0 &&
                   now_ms - seg->max_timestamp > cfg->retention_ms;
    bool by_size = cfg->retention_bytes >= 0 && total_bytes - seg->size >= cfg->retention_bytes;
    return by_time || by_size;
}

/* Epochs that start before the new log start collapse into one entry at the log start. */
int sl__log_trim_epochs_front(sl_log_t *log)
{
    size_t drop = 0;
    while (drop + 1 < log->epoch_count &&
           log->epochs[drop + 1].start_offset <= log->log_start_offset)
        drop++;
    if (log->epoch_count == 0 ||
        (drop == 0 && log->epochs[0].start_offset >= log->log_start_offset))
        return 0;
    memmove(log->epochs, log->epochs + drop, (log->epoch_count - drop) * sizeof *log->epochs);
    log->epoch_count -= drop;
    if (log->epochs[0].start_offset < log->log_start_offset)
        log->epochs[0].start_offset = log->log_start_offset;
    return sl__log_write_epochs(log);
}

int sl_log_apply_retention(sl_log_t *log, int64_t now_ms)
{
    SL_ASSERT(log != NULL);
    if (log->dir->offline || log->dir->closing)
        return 0;
    int64_t total = 0;
    for (size_t i = 0; i < log->seg_count; i++)
        total += log->segs[i]->size;
    int deleted = 0, rc = 0;
    while (log->seg_count > 1) {
        sl_log_segment_t *seg = log->segs[0];
        /* wholly below the log start offset (DeleteRecords moved it) */
        bool below_start = log->segs[1]->base_offset <= log->log_start_offset;
        if (seg->ops_in_flight > 0 || log->segs[1]->base_offset > log->high_watermark ||
            (!below_start && !segment_expired(log, seg, now_ms, total)))
            break;
        rc = sl__segment_delete_files(log, seg->base_offset);
        if (rc < 0)
            break;
        total -= seg->size;
        sl__segment_free(log->dir, seg);
        memmove(log->segs, log->segs + 1, (log->seg_count - 1) * sizeof *log->segs);
        log->seg_count--;
        deleted++;
    }
    if (deleted > 0) {
        if (log->segs[0]->base_offset > log->log_start_offset) /* it never moves back */
            log->log_start_offset = log->segs[0]->base_offset;
        SL_LOG(SL_LOG_INFO, "log",
               "retention deleted segments topic=%s partition=%" PRId32 " count=%d"
               " log_start_offset=%" PRId64,
               log->topic, log->partition, deleted, log->log_start_offset);
        int erc = sl__log_trim_epochs_front(log);
        if (rc == 0)
            rc = erc;
        /* Snapshots of deleted segments go; producers stay in memory (Kafka 3.x). */
        if (rc == 0)
            rc = sl__producers_trim_snapshots(log);
        if (rc == 0)
            rc = log->dir->disk.ops->fsync_dir(&log->dir->disk, log->path);
    }
    if (rc < 0) {
        sl__dir_go_offline(log->dir, rc, "retention", log);
        return rc;
    }
    return deleted;
}
