/* replicated: what a Raft group needs from its log (src/log/README.md "Replicated logs"): the
 * owner's high watermark, explicit flushes through the dir's group commit, and durable truncation
 * to a batch boundary on divergence.
 * Invariants: a replicated log never syncs or moves its high watermark by itself; a flush request
 * completes once the synced end covers the log end at its call (or a truncation below it), in call
 * order, never inside a call; a truncation never goes below the high watermark. */
#include <string.h>

#include "log_int.h"

int sl_log_make_replicated(sl_log_t *log)
{
    SL_ASSERT(log != NULL);
    SL_ASSERT(log->q_head == NULL && log->ops_in_flight == 0);
    if (log->dir->offline)
        return -EIO;
    log->replicated = true;
    log->high_watermark = log->log_start_offset; /* the owner says what is committed */
    if (log->dir->was_clean)
        return 0;
    /* What recovery kept may sit in the page cache only: make it durable before anyone counts it.
     */
    sl_disk_t *disk = &log->dir->disk;
    for (size_t i = 0; i < log->seg_count; i++) {
        int rc = disk->ops->fsync(disk, log->segs[i]->fd);
        if (rc < 0) {
            sl__dir_go_offline(log->dir, rc, "fsync", log);
            return rc;
        }
    }
    return 0;
}

bool sl_log_is_replicated(const sl_log_t *log)
{
    return log->replicated;
}

void sl_log_set_high_watermark(sl_log_t *log, int64_t hw)
{
    SL_ASSERT(log->replicated);
    sl__log_set_hw(log, SL_MIN(hw, log->log_end_offset));
}

int64_t sl_log_written_offset(const sl_log_t *log)
{
    return log->written_offset;
}

int64_t sl_log_synced_offset(const sl_log_t *log)
{
    return log->synced_offset;
}

const sl_clock_ops_t *sl_log_dir_clock(const sl_log_dir_t *dir)
{
    return dir->clock;
}

const sl_log_epoch_t *sl_log_leader_epochs(const sl_log_t *log, size_t *count)
{
    *count = log->epoch_count;
    return log->epochs;
}

/* ---- flush ---- */

static void flush_done_callback(sl_disk_op_t *op, int64_t result, void *data)
{
    sl_log_flush_t *req = data;
    sl_log_t *log = req->priv_log;
    sl_log_dir_t *dir = log->dir;
    (void)result; /* a zero-byte read: it only carries the completion out of the call */
    SL_ASSERT(op == &req->priv_op);
    log->ops_in_flight--;
    log->segs[log->seg_count - 1]->ops_in_flight--;
    int status = req->priv_status;
    if (status == 0 && dir->offline)
        status = dir->offline_err < 0 ? dir->offline_err : -EIO;
    log->busy++;
    req->priv_cb(req, status, log->synced_offset, req->priv_data);
    log->busy--;
    sl__dir_op_done(dir);
}

/* Completes req through a zero-byte read, so the callback runs from the disk's completion. */
static int flush_complete_soon(sl_log_t *log, sl_log_flush_t *req, int status)
{
    sl_log_segment_t *seg = log->segs[log->seg_count - 1];
    req->priv_status = status;
    int rc = sl_disk_pread(&log->dir->disk, &req->priv_op, seg->fd, NULL, 0, 0, flush_done_callback,
                           req);
    if (rc < 0)
        return rc;
    seg->ops_in_flight++;
    log->ops_in_flight++;
    log->dir->ops_in_flight++;
    return 0;
}

/* Completes, through the disk, the waiting flushes the synced end covers (from inside calls,
 * where a callback must not run). */
static void complete_covered_soon(sl_log_t *log)
{
    while (log->flush_head != NULL && log->flush_head->priv_target <= log->synced_offset) {
        sl_log_flush_t *req = log->flush_head;
        log->flush_head = req->priv_next;
        if (log->flush_head == NULL)
            log->flush_tail = NULL;
        if (flush_complete_soon(log, req, 0) < 0)
            req->priv_cb(req, 0, log->synced_offset, req->priv_data); /* no other way out */
    }
}

int sl_log_flush(sl_log_t *log, sl_log_flush_t *req, sl_log_flush_cb cb, void *data)
{
    SL_ASSERT(log != NULL && req != NULL && cb != NULL);
    if (log->dir->closing)
        return SL_ECLOSED;
    *req = (sl_log_flush_t){
        .priv_log = log, .priv_target = log->log_end_offset, .priv_cb = cb, .priv_data = data};
    if (log->dir->offline)
        return flush_complete_soon(log, req,
                                   log->dir->offline_err < 0 ? log->dir->offline_err : -EIO);
    if (log->flush_head == NULL && log->synced_offset >= req->priv_target)
        return flush_complete_soon(log, req, 0); /* durable already: nothing to wait for */
    if (log->flush_tail != NULL)
        log->flush_tail->priv_next = req;
    else
        log->flush_head = req;
    log->flush_tail = req;
    /* Writes still in flight ask for the round themselves when they complete (log.c). */
    if (log->written_offset > log->synced_offset) {
        log->in_flush_call = true; /* a round that settles at once must not call back in here */
        sl__dir_want_sync(log->dir);
        log->in_flush_call = false;
    }
    complete_covered_soon(log);
    return 0;
}

void sl__log_settle_flushes(sl_log_t *log)
{
    bool offline = log->dir->offline;
    while (log->flush_head != NULL) {
        sl_log_flush_t *req = log->flush_head;
        if (!offline && (log->synced_offset < req->priv_target || log->in_flush_call))
            break;
        log->flush_head = req->priv_next;
        if (log->flush_head == NULL)
            log->flush_tail = NULL;
        if (offline) {
            int err = log->dir->offline_err < 0 ? log->dir->offline_err : -EIO;
            if (flush_complete_soon(log, req, err) == 0)
                continue;
            req->priv_cb(req, err, log->synced_offset, req->priv_data); /* no other way out */
            continue;
        }
        log->busy++;
        req->priv_cb(req, 0, log->synced_offset, req->priv_data);
        log->busy--;
    }
}

/* ---- truncation ---- */

/* What is gone needs no sync: waiting flushes now covered complete (through the disk). */
static void settle_truncated_flushes(sl_log_t *log, int64_t offset)
{
    for (sl_log_flush_t *f = log->flush_head; f != NULL; f = f->priv_next)
        f->priv_target = SL_MIN(f->priv_target, offset);
    complete_covered_soon(log);
}

/* The byte position of the batch starting at offset in seg: a walk over the headers from the
 * index position before it. -EINVAL when offset falls inside a batch. */
static int64_t batch_position(sl_log_t *log, const sl_log_segment_t *seg, int64_t offset)
{
    if (offset == seg->next_offset)
        return seg->size;
    sl_disk_t *disk = &log->dir->disk;
    int64_t pos = sl__segment_lookup_offset(seg, offset);
    uint8_t hdr[SL_BATCH_HEADER_BYTES];
    while (pos < seg->size) {
        int64_t n = disk->ops->pread_sync(disk, seg->fd, hdr, sizeof hdr, pos);
        if (n < 0)
            return n;
        sl_batch_info_t info;
        if (n != (int64_t)sizeof hdr || sl__batch_check(hdr, sizeof hdr, false, &info) != 0)
            return SL_ECORRUPT;
        if (info.base_offset == offset)
            return pos;
        if (info.base_offset > offset || info.last_offset >= offset)
            return -EINVAL;
        pos += info.batch_bytes;
    }
    return -EINVAL;
}

/* Drops the in-memory index entries at or past (offset, pos), as Kafka's LogSegment.truncateTo,
 * taking the largest timestamp from the time index's last remaining entry. */
static void trim_indexes(sl_log_segment_t *seg, int64_t offset, int64_t pos)
{
    while (seg->oidx_count > 0 && (int64_t)seg->oidx[seg->oidx_count - 1].position >= pos)
        seg->oidx_count--;
    while (seg->tidx_count > 0 &&
           seg->base_offset + seg->tidx[seg->tidx_count - 1].relative_offset >= offset)
        seg->tidx_count--;
    if (seg->tidx_count > 0) {
        seg->max_timestamp = seg->tidx[seg->tidx_count - 1].timestamp;
        seg->offset_of_max_timestamp =
            seg->base_offset + seg->tidx[seg->tidx_count - 1].relative_offset;
    } else {
        seg->max_timestamp = seg->offset_of_max_timestamp = -1;
    }
    int64_t last_index = seg->oidx_count > 0 ? seg->oidx[seg->oidx_count - 1].position : 0;
    seg->bytes_since_index = pos - last_index;
}

static int truncate_epochs(sl_log_t *log, int64_t offset)
{
    size_t n = log->epoch_count;
    while (n > 0 && log->epochs[n - 1].start_offset >= offset)
        n--;
    if (n == log->epoch_count)
        return 0;
    log->epoch_count = n;
    return sl__log_write_epochs(log);
}

static int truncate_segments(sl_log_t *log, size_t keep, int64_t offset, int64_t pos)
{
    sl_disk_t *disk = &log->dir->disk;
    int rc = 0;
    while (log->seg_count > keep + 1 && rc == 0) {
        sl_log_segment_t *last = log->segs[log->seg_count - 1];
        rc = sl__segment_delete_files(log, last->base_offset);
        if (rc == 0) {
            sl__segment_free(log->dir, last);
            log->seg_count--;
        }
    }
    sl_log_segment_t *seg = log->segs[keep];
    /* It is the active segment again: its index files go (rewritten once it is rolled and
     * synced, or at close), so a crash after it grows makes recovery walk it. */
    if (rc == 0)
        rc = sl__segment_delete_index_files(log, seg->base_offset);
    if (rc == 0)
        rc = disk->ops->ftruncate(disk, seg->fd, pos);
    if (rc == 0)
        rc = disk->ops->fsync(disk, seg->fd);
    if (rc == 0)
        rc = disk->ops->fsync_dir(disk, log->path);
    if (rc < 0)
        return rc;
    trim_indexes(seg, offset, pos);
    seg->next_offset = offset;
    seg->size = seg->written_pos = pos;
    seg->index_flushed = false;
    if (pos == 0)
        seg->created_ms = 0;
    /* The log is left durable up to its new end: older segments with unsynced bytes are synced
     * now, so "a settled segment has only settled ones before it" (the group commit's walk) holds,
     * and a round in flight settles them at their whole size. */
    for (size_t i = 0; i <= keep && rc == 0; i++) {
        sl_log_segment_t *s = log->segs[i];
        if (i < keep && s->synced_pos < s->size)
            rc = disk->ops->fsync(disk, s->fd);
        s->synced_pos = s->size;
        if (s->in_round)
            s->sync_target_pos = s->size;
    }
    return rc;
}

int sl_log_truncate(sl_log_t *log, int64_t offset)
{
    SL_ASSERT(log != NULL);
    if (log->dir->offline)
        return -EIO;
    if (log->dir->closing)
        return SL_ECLOSED;
    if (offset < log->high_watermark || offset < log->log_start_offset ||
        offset > log->log_end_offset)
        return SL_LOG_EOUTOFRANGE;
    if (offset == log->log_end_offset)
        return 0;
    size_t keep = sl__log_segment_find(log, offset);
    bool busy = log->cursor != NULL || log->q_head != NULL || log->clean_job != NULL;
    for (size_t i = keep + 1; i < log->seg_count; i++)
        busy = busy || log->segs[i]->ops_in_flight > 0;
    if (busy)
        return -EBUSY;
    int64_t pos = batch_position(log, log->segs[keep], offset);
    if (pos == -EINVAL)
        return -EINVAL;
    int rc = pos < 0 ? (int)pos : truncate_segments(log, keep, offset, pos);
    if (rc == 0) {
        SL_LOG(SL_LOG_INFO, "log",
               "truncated log topic=%s partition=%" PRId32 " from=%" PRId64 " to=%" PRId64,
               log->topic, log->partition, log->log_end_offset, offset);
        log->log_end_offset = log->written_offset = log->synced_offset = offset;
        if (log->in_sync_round)
            log->sync_target_offset = offset;
        log->max_timestamp = log->offset_of_max_timestamp = -1;
        for (size_t i = 0; i < log->seg_count; i++) {
            if (log->segs[i]->max_timestamp > log->max_timestamp) {
                log->max_timestamp = log->segs[i]->max_timestamp;
                log->offset_of_max_timestamp = log->segs[i]->offset_of_max_timestamp;
            }
        }
        rc = truncate_epochs(log, offset);
    }
    if (rc == 0)
        rc = sl__producers_reload(log);
    if (rc < 0) {
        sl__dir_go_offline(log->dir, rc, "truncate", log);
        return rc;
    }
    settle_truncated_flushes(log, offset);
    return 0;
}
