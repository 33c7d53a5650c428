/* read: Fetch reads and ListOffsets timestamp lookups, both as a walk over batch headers with
 * async preads: from the sparse index's position, read a window, skip batches until the wanted
 * one, then return whole batches (Fetch) or look at that one batch's records (lookups: the exact
 * record, decompressing when needed). Invariants: nothing past the segment's visible end (the high
 * watermark) is ever returned; results complete through the disk, never inside the call. */
#include <string.h>

#include "log_int.h"
#include "sluice/records.h"

/* SCAN_TIME: first record with timestamp >= target; SCAN_MAX: first record whose timestamp is the
 * target (the largest in the log). */
enum { SCAN_READ = 1, SCAN_TIME, SCAN_MAX, SCAN_READ_DONE, SCAN_TIME_DONE };

static int64_t visible_end(const sl_log_t *log, const sl_log_segment_t *seg)
{
    return sl__log_syncs_on_ack(log) ? seg->synced_pos : seg->written_pos;
}

static void scan_read_callback(sl_disk_op_t *op, int64_t result, void *data);
static bool read_moves_on(const sl__log_scan_t *scan, size_t index);
static void read_next_segment(sl__log_scan_t *scan);

/* Reads len bytes at pos into a fresh buffer. */
static int scan_issue(sl__log_scan_t *scan, int64_t pos, size_t len)
{
    sl_log_t *log = scan->log;
    sl_free(scan->buf);
    scan->buf = sl_malloc(len ? len : 1);
    scan->buf_len = 0;
    scan->read_len = len;
    scan->buf_pos = pos;
    if (scan->buf == NULL)
        return -ENOMEM;
    int rc = sl_disk_pread(&log->dir->disk, &scan->op, scan->segment->fd, scan->buf, len, pos,
                           scan_read_callback, scan);
    if (rc < 0)
        return rc;
    scan->segment->ops_in_flight++;
    log->ops_in_flight++;
    log->dir->ops_in_flight++;
    return 0;
}

static size_t window_bytes(const sl__log_scan_t *scan, int64_t pos)
{
    size_t w = SL_LOG_SCAN_CHUNK_BYTES + (size_t)scan->log->cfg.index_interval_bytes;
    if (scan->mode == SCAN_READ && !scan->file_ok)
        w += SL_MIN(scan->max_bytes, (size_t)SL_LOG_BATCH_BYTES_MAX);
    return (size_t)SL_MIN((int64_t)w, scan->limit_pos - pos);
}

static void finish(sl__log_scan_t *scan, int status, size_t len)
{
    uint8_t *bytes = status == 0 && len > 0 ? scan->buf : NULL;
    if (bytes == NULL)
        sl_free(scan->buf);
    scan->buf = NULL;
    if (scan->mode == SCAN_READ || scan->mode == SCAN_READ_DONE) {
        sl_log_read_t *req = SL_CONTAINER_OF(scan, sl_log_read_t, priv_scan);
        req->priv_cb(req, status, bytes, bytes ? len : 0, req->priv_data);
    } else {
        sl_log_lookup_t *req = SL_CONTAINER_OF(scan, sl_log_lookup_t, priv_scan);
        req->priv_cb(req, status, status == 0 ? scan->result_offset : -1,
                     status == 0 ? scan->result_timestamp : -1, req->priv_data);
    }
}

/* Moves the found batches [start, start+want) to the front of buf, whole batches only. */
static void deliver(sl__log_scan_t *scan, size_t want)
{
    size_t off = (size_t)(scan->start_pos - scan->buf_pos);
    size_t have = scan->buf_len > off ? SL_MIN(want, scan->buf_len - off) : 0;
    const uint8_t *p = scan->buf + off;
    size_t end = 0;
    sl_batch_info_t info;
    while (end < have && sl__batch_check(p + end, have - end, false, &info) == 0 &&
           (uint64_t)info.batch_bytes <= have - end && info.base_offset < scan->limit_offset)
        end += (size_t)info.batch_bytes;
    memmove(scan->buf, p, end);
    finish(scan, 0, end);
}

/* What a Fetch wants once the first batch (first_len bytes at start_pos) is known. */
static size_t read_want(const sl__log_scan_t *scan, int64_t first_len)
{
    size_t visible = (size_t)(scan->limit_pos - scan->start_pos);
    if ((size_t)first_len > scan->max_bytes)
        return scan->min_one_batch ? (size_t)first_len : 0;
    return SL_MIN(visible, scan->max_bytes);
}

/* The end of the last whole batch in [start, start + max_bytes], when the batches run past that:
 * the furthest of the batches seen in buf and the offset index positions (each starts a batch). */
static int64_t range_end(const sl__log_scan_t *scan, int64_t first_len)
{
    int64_t start = scan->start_pos, limit = start + (int64_t)scan->max_bytes;
    SL_ASSERT(limit < scan->limit_pos);
    int64_t end = start + first_len;
    sl_batch_info_t info;
    while (end - scan->buf_pos < (int64_t)scan->buf_len) {
        size_t off = (size_t)(end - scan->buf_pos);
        if (sl__batch_check(scan->buf + off, scan->buf_len - off, false, &info) != 0 ||
            end + info.batch_bytes > limit)
            break;
        end += info.batch_bytes;
    }
    const sl_log_segment_t *seg = scan->segment;
    size_t lo = 0, hi = seg->oidx_count; /* first entry past limit */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((int64_t)seg->oidx[mid].position <= limit)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && (int64_t)seg->oidx[lo - 1].position > end)
        end = seg->oidx[lo - 1].position;
    SL_ASSERT(end > start && end <= limit);
    return end;
}

/* Ends a sl_log_read_file with the records as a range of the segment file. */
static void finish_range(sl__log_scan_t *scan, int64_t end)
{
    sl_log_read_t *req = SL_CONTAINER_OF(scan, sl_log_read_t, priv_scan);
    SL_ASSERT(scan->mode == SCAN_READ && end > scan->start_pos);
    sl_free(scan->buf);
    scan->buf = NULL;
    req->file_fd = scan->segment->fd;
    req->file_pos = scan->start_pos;
    req->priv_cb(req, 0, NULL, (size_t)(end - scan->start_pos), req->priv_data);
}

static void scan_found(sl__log_scan_t *scan, const sl_batch_info_t *info)
{
    SL_ASSERT(scan->mode == SCAN_READ);
    scan->start_pos = scan->scan_pos;
    size_t want = read_want(scan, info->batch_bytes);
    if (want == 0) {
        finish(scan, 0, 0);
    } else if (scan->start_pos + (int64_t)want <= scan->buf_pos + (int64_t)scan->buf_len) {
        deliver(scan, want); /* already in memory: cheaper than another syscall */
    } else if (scan->file_ok) {
        bool whole =
            scan->start_pos + (int64_t)want == scan->limit_pos || want == (size_t)info->batch_bytes;
        finish_range(scan,
                     whole ? scan->start_pos + (int64_t)want : range_end(scan, info->batch_bytes));
    } else {
        scan->final_read = true;
        int rc = scan_issue(scan, scan->start_pos, want);
        if (rc < 0)
            finish(scan, rc, 0);
    }
}

typedef struct {
    int64_t target;
    bool exact;         /* timestamp == target (SCAN_MAX) rather than >= target (SCAN_TIME) */
    int64_t min_offset; /* the log start offset: records below it are gone (DeleteRecords) */
    int64_t offset, timestamp;
} find_t;

static int find_record(const sl_record_t *rec, void *data)
{
    find_t *f = data;
    if (rec->offset < f->min_offset ||
        (f->exact ? rec->timestamp != f->target : rec->timestamp < f->target))
        return 0;
    f->offset = rec->offset;
    f->timestamp = rec->timestamp;
    return 1;
}

static void answer(sl__log_scan_t *scan, int64_t offset, int64_t timestamp)
{
    scan->result_offset = offset;
    scan->result_timestamp = timestamp;
    finish(scan, 0, 0);
}

/* Looks for the record inside the whole batch at p (CRC checked first: these bytes are about to
 * be decompressed). Returns true when the scan is over, false to go on with the next batch. */
static bool scan_records(sl__log_scan_t *scan, const uint8_t *p, const sl_batch_info_t *info)
{
    sl_batch_info_t checked;
    int rc = sl__batch_check(p, (size_t)info->batch_bytes, true, &checked);
    find_t f = {.target = scan->target,
                .exact = scan->mode == SCAN_MAX,
                .min_offset = scan->mode == SCAN_MAX ? 0 : scan->log->log_start_offset,
                .offset = -1};
    sl_buf_t scratch;
    sl_records_scratch_init(&scratch);
    if (rc == 0)
        rc = sl_records_iterate(p, (size_t)info->batch_bytes, &scratch, find_record, &f);
    sl_buf_deinit(&scratch);
    if (rc == 1) {
        answer(scan, f.offset, f.timestamp);
    } else if (rc == SL_ELIMIT || rc == -ENOMEM) {
        /* Too big to look inside: the batch's first offset is still no later than the record. */
        SL_LOG_RATELIMITED(SL_LOG_WARN, "log",
                           "timestamp lookup at batch granularity dir=%s "
                           "position=%" PRId64 " err=%s",
                           scan->log->path, scan->scan_pos, sl_strerror(rc));
        answer(scan, info->base_offset, info->max_timestamp);
    } else if (rc < 0) {
        SL_LOG(SL_LOG_ERROR, "log", "unreadable records dir=%s position=%" PRId64 " err=%s",
               scan->log->path, scan->scan_pos, sl_strerror(rc));
        finish(scan, SL_ECORRUPT, 0);
    } else if (scan->mode == SCAN_MAX) {
        /* No record carries the header's MaxTimestamp (a producer's header that lies): the batch
         * is still where it is. */
        answer(scan, info->base_offset, info->max_timestamp);
    } else {
        return false; /* as Kafka: a batch whose records all fall short does not match */
    }
    return true;
}

/* Lookups: the batch at scan_pos may hold the record; make sure all of it is in buf, then look.
 * Returns true when the scan is over or waits for the read of the whole batch. */
static bool scan_inside(sl__log_scan_t *scan, const sl_batch_info_t *info)
{
    size_t off = (size_t)(scan->scan_pos - scan->buf_pos);
    SL_ASSERT(scan->buf_len >= off);
    SL_ASSERT(info->batch_bytes <= scan->limit_pos - scan->scan_pos);
    if (scan->buf_len - off >= (size_t)info->batch_bytes)
        return scan_records(scan, scan->buf + off, info);
    if (scan->start_pos == scan->scan_pos) {
        finish(scan, SL_ECORRUPT, 0); /* the read of the whole batch came back short */
        return true;
    }
    scan->start_pos = scan->scan_pos; /* lookups use it to mark that whole-batch read */
    size_t want = SL_MAX((size_t)info->batch_bytes, window_bytes(scan, scan->scan_pos));
    int rc = scan_issue(scan, scan->scan_pos, want);
    if (rc < 0)
        finish(scan, rc, 0);
    return true;
}

static void scan_step(sl__log_scan_t *scan)
{
    if (scan->mode == SCAN_READ_DONE || scan->mode == SCAN_TIME_DONE) {
        finish(scan, scan->status, 0);
        return;
    }
    if (scan->final_read) {
        deliver(scan, scan->buf_len);
        return;
    }
    while (scan->scan_pos < scan->limit_pos) {
        size_t off = (size_t)(scan->scan_pos - scan->buf_pos);
        size_t avail = scan->buf_len > off ? scan->buf_len - off : 0;
        sl_batch_info_t info;
        int rc = sl__batch_check(avail ? scan->buf + off : NULL, avail, false, &info);
        if (rc == SL_EINCOMPLETE && scan->short_read)
            break; /* cut under the read (sl_log_truncate): nothing more is there */
        if (rc == SL_EINCOMPLETE && scan->buf_pos + (int64_t)scan->buf_len < scan->limit_pos) {
            rc = scan_issue(scan, scan->scan_pos, window_bytes(scan, scan->scan_pos));
            if (rc < 0)
                finish(scan, rc, 0);
            return;
        }
        if (rc != 0 || info.batch_bytes > scan->limit_pos - scan->scan_pos) {
            SL_LOG(SL_LOG_ERROR, "log", "unreadable batch dir=%s position=%" PRId64,
                   scan->log->path, scan->scan_pos);
            finish(scan, SL_ECORRUPT, 0);
            return;
        }
        if (info.base_offset >= scan->limit_offset)
            break; /* written but not visible: a replicated log's high watermark is below */
        if (scan->mode == SCAN_READ && info.last_offset >= scan->target) {
            scan_found(scan, &info);
            return;
        }
        bool hit = scan->mode == SCAN_TIME ? info.max_timestamp >= scan->target
                                           : info.max_timestamp == scan->target;
        if (scan->mode != SCAN_READ && hit && scan_inside(scan, &info))
            return;
        scan->scan_pos += info.batch_bytes;
    }
    size_t index = sl__log_segment_find(scan->log, scan->segment->base_offset);
    if (read_moves_on(scan, index)) {
        read_next_segment(scan);
        return;
    }
    finish(scan, 0, 0); /* nothing visible matches */
}

static void scan_read_callback(sl_disk_op_t *op, int64_t result, void *data)
{
    sl__log_scan_t *scan = data;
    sl_log_dir_t *dir = scan->log->dir;
    SL_ASSERT(op == &scan->op);
    scan->segment->ops_in_flight--;
    scan->log->ops_in_flight--;
    if (result < 0) {
        finish(scan, (int)result, 0);
    } else {
        scan->short_read = (uint64_t)result < scan->read_len;
        scan->buf_len = (size_t)result;
        scan_step(scan);
    }
    sl__dir_op_done(dir);
}

/* Completes through a zero-byte read so the callback still runs outside the call. */
static int scan_complete_soon(sl__log_scan_t *scan, int mode, int status)
{
    scan->mode = mode;
    scan->status = status;
    scan->segment = scan->log->segs[scan->log->seg_count - 1];
    return scan_issue(scan, 0, 0);
}

static void scan_init(sl__log_scan_t *scan, sl_log_t *log, int mode, int64_t target)
{
    *scan = (sl__log_scan_t){.log = log,
                             .mode = mode,
                             .target = target,
                             .start_pos = -1,
                             .limit_offset = log->high_watermark,
                             .result_offset = -1,
                             .result_timestamp = -1};
}

/* A Fetch that found nothing at or past its offset in a whole segment goes on in the next one:
 * a compacted segment may end before the next begins, or hold nothing at all (Kafka's read does
 * the same). False when there is no next segment with visible data. */
static bool read_moves_on(const sl__log_scan_t *scan, size_t index)
{
    const sl_log_t *log = scan->log;
    return scan->mode == SCAN_READ && scan->limit_pos == scan->segment->size &&
           index + 1 < log->seg_count && log->segs[index + 1]->base_offset < scan->limit_offset;
}

/* Starts the walk in segs[index] from the index position for offset. */
static int scan_start(sl__log_scan_t *scan, size_t index, int64_t offset, int done_mode)
{
    sl_log_t *log = scan->log;
    for (;;) {
        scan->segment = log->segs[index];
        scan->limit_pos = visible_end(log, scan->segment);
        scan->scan_pos = sl__segment_lookup_offset(scan->segment, offset);
        if (scan->scan_pos < scan->limit_pos)
            return scan_issue(scan, scan->scan_pos, window_bytes(scan, scan->scan_pos));
        if (!read_moves_on(scan, index))
            return scan_complete_soon(scan, done_mode, 0);
        offset = log->segs[++index]->base_offset;
    }
}

static void read_next_segment(sl__log_scan_t *scan)
{
    size_t index = sl__log_segment_find(scan->log, scan->segment->base_offset);
    SL_ASSERT(scan->log->segs[index] == scan->segment);
    int rc = scan_start(scan, index + 1, scan->log->segs[index + 1]->base_offset, SCAN_READ_DONE);
    if (rc < 0)
        finish(scan, rc, 0);
}

/* valid_end: the largest offset one may ask for; visible_end: where visible batches end. */
static int read_start(sl_log_t *log, sl_log_read_t *req, int64_t offset, int64_t valid_end,
                      int64_t visible_end, size_t max_bytes, bool min_one_batch, bool file_ok,
                      sl_log_read_cb cb, void *data)
{
    SL_ASSERT(log != NULL && req != NULL && cb != NULL);
    if (log->dir->closing)
        return SL_ECLOSED;
    if (offset < log->log_start_offset || offset > valid_end)
        return SL_LOG_EOUTOFRANGE;
    sl__log_scan_t *scan = &req->priv_scan;
    scan_init(scan, log, SCAN_READ, offset);
    scan->limit_offset = visible_end;
    scan->max_bytes = max_bytes;
    scan->min_one_batch = min_one_batch;
    /* A replicated log's visible end may lie inside the written bytes, where only a walk over the
     * batch headers finds it: its reads come back as bytes. */
    scan->file_ok = file_ok && !log->replicated;
    req->priv_cb = cb;
    req->priv_data = data;
    req->file_fd = -1;
    req->file_pos = -1;
    int rc = offset >= visible_end
                 ? scan_complete_soon(scan, SCAN_READ_DONE, 0)
                 : scan_start(scan, sl__log_segment_find(log, offset), offset, SCAN_READ_DONE);
    if (rc < 0) {
        sl_free(scan->buf);
        scan->buf = NULL;
    }
    return rc;
}

int sl_log_read(sl_log_t *log, sl_log_read_t *req, int64_t offset, size_t max_bytes,
                bool min_one_batch, sl_log_read_cb cb, void *data)
{
    return read_start(log, req, offset, log->high_watermark, log->high_watermark, max_bytes,
                      min_one_batch, false, cb, data);
}

int sl_log_read_file(sl_log_t *log, sl_log_read_t *req, int64_t offset, size_t max_bytes,
                     bool min_one_batch, sl_log_read_cb cb, void *data)
{
    return read_start(log, req, offset, log->high_watermark, log->high_watermark, max_bytes,
                      min_one_batch, true, cb, data);
}

int sl_log_read_upto(sl_log_t *log, sl_log_read_t *req, int64_t offset, int64_t end_offset,
                     size_t max_bytes, bool min_one_batch, sl_log_read_cb cb, void *data)
{
    int64_t valid_end = SL_MIN(end_offset, log->log_end_offset);
    return read_start(log, req, offset, valid_end, SL_MIN(valid_end, log->written_offset),
                      max_bytes, min_one_batch, false, cb, data);
}

int sl_log_offset_for_timestamp(sl_log_t *log, sl_log_lookup_t *req, int64_t timestamp,
                                sl_log_lookup_cb cb, void *data)
{
    SL_ASSERT(log != NULL && req != NULL && cb != NULL);
    if (log->dir->closing)
        return SL_ECLOSED;
    sl__log_scan_t *scan = &req->priv_scan;
    scan_init(scan, log, SCAN_TIME, timestamp);
    req->priv_cb = cb;
    req->priv_data = data;
    size_t i = 0;
    while (i < log->seg_count && log->segs[i]->max_timestamp < timestamp)
        i++;
    int rc;
    if (i == log->seg_count || log->segs[i]->base_offset >= log->high_watermark) {
        rc = scan_complete_soon(scan, SCAN_TIME_DONE, 0);
    } else {
        int64_t from = sl__segment_lookup_time(log->segs[i], timestamp);
        rc = scan_start(scan, i, from, SCAN_TIME_DONE);
    }
    if (rc < 0) {
        sl_free(scan->buf);
        scan->buf = NULL;
    }
    return rc;
}

int sl_log_offset_for_max_timestamp(sl_log_t *log, sl_log_lookup_t *req, sl_log_lookup_cb cb,
                                    void *data)
{
    SL_ASSERT(log != NULL && req != NULL && cb != NULL);
    if (log->dir->closing)
        return SL_ECLOSED;
    /* As Kafka: the first segment holding the largest timestamp (retention may have removed the
     * one the log once noted), then the first batch there whose MaxTimestamp it is. */
    size_t best = log->seg_count;
    for (size_t i = 0; i < log->seg_count; i++) {
        if (log->segs[i]->max_timestamp >= 0 &&
            (best == log->seg_count ||
             log->segs[i]->max_timestamp > log->segs[best]->max_timestamp))
            best = i;
    }
    sl__log_scan_t *scan = &req->priv_scan;
    req->priv_cb = cb;
    req->priv_data = data;
    int rc;
    if (best == log->seg_count || log->segs[best]->base_offset >= log->high_watermark) {
        scan_init(scan, log, SCAN_MAX, -1);
        rc = scan_complete_soon(scan, SCAN_TIME_DONE, 0);
    } else {
        const sl_log_segment_t *seg = log->segs[best];
        scan_init(scan, log, SCAN_MAX, seg->max_timestamp);
        rc = scan_start(scan, best, seg->offset_of_max_timestamp, SCAN_TIME_DONE);
    }
    if (rc < 0) {
        sl_free(scan->buf);
        scan->buf = NULL;
    }
    return rc;
}
