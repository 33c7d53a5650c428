/* recovery: rebuilds a partition's segments from its directory at open. Rolled segments with
 * consistent index files are trusted (their index is written only once they are fully synced).
 * The newest segment, and any segment without usable indexes, is walked batch by batch; after an
 * unclean shutdown that walk checks length, magic, offsets and CRC32C and cuts the tail at the
 * first batch that fails, dropping any later segments, and says so in the log.
 * Invariant on return: every segment holds only whole batches with dense offsets. */
#include <stdlib.h>
#include <string.h>

#include "cleaner_int.h"

typedef struct {
    sl_log_t *log;
    int64_t *bases;
    size_t count, cap;
    int rc;
} names_t;

static int collect_name(const char *name, void *data)
{
    names_t *n = data;
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, ".tmp") == 0) {
        char p[SL_LOG_PATH_BYTES_MAX];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", n->log->path, name) < sizeof p)
            (void)n->log->dir->disk.ops->unlink(&n->log->dir->disk, p); /* a torn atomic write */
        return 0;
    }
    int64_t base;
    if (!sl__segment_name_parse(name, ".log", "", &base))
        return 0;
    if (n->count == SL_LOG_SEGMENTS_MAX)
        return SL_ELIMIT;
    if (n->count == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 16;
        int64_t *p = sl_realloc(n->bases, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        n->bases = p;
        n->cap = cap;
    }
    n->bases[n->count++] = base;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    uint8_t *buf;
    size_t cap, len;
    int64_t pos;
} window_t;

static int window_fill(sl_log_t *log, sl_log_segment_t *seg, window_t *w, int64_t pos, size_t need)
{
    if (need > w->cap) {
        uint8_t *p = sl_realloc(w->buf, need);
        if (p == NULL)
            return -ENOMEM;
        w->buf = p;
        w->cap = need;
    }
    int64_t n = log->dir->disk.ops->pread_sync(&log->dir->disk, seg->fd, w->buf, need, pos);
    if (n < 0)
        return (int)n;
    w->pos = pos;
    w->len = (size_t)n;
    return 0;
}

/* Walks batches from pos to file_size, noting each in the segment's indexes. Returns where the
 * valid batches end, or -errno when the disk failed. any_first accepts the first batch's base
 * offset as found (a walk that starts at an index entry); gaps_ok accepts offsets that jump
 * forward (a segment the cleaner rewrote). */
static int64_t walk(sl_log_t *log, sl_log_segment_t *seg, int64_t pos, int64_t file_size,
                    bool check_crc, bool any_first, bool gaps_ok)
{
    window_t w = {.pos = pos};
    bool first = true;
    int64_t result;
    while (pos < file_size) {
        size_t off = (size_t)(pos - w.pos);
        size_t avail = w.len > off ? w.len - off : 0;
        sl_batch_info_t info;
        int rc = sl__batch_check(avail ? w.buf + off : NULL, avail, check_crc, &info);
        if (rc == SL_EINCOMPLETE) {
            if (w.pos + (int64_t)w.len >= file_size)
                break; /* the file ends inside this batch: a torn tail */
            size_t need = SL_LOG_RECOVERY_CHUNK_BYTES;
            if (avail >= SL_BATCH_LOG_OVERHEAD)
                need = SL_MAX(need, (size_t)sl__be32(w.buf + off + SL_BATCH_OFF_LENGTH) +
                                        SL_BATCH_LOG_OVERHEAD);
            need = (size_t)SL_MIN((int64_t)need, file_size - pos);
            if ((rc = window_fill(log, seg, &w, pos, need)) < 0) {
                result = rc;
                goto done;
            }
            if (w.len < need)
                file_size = w.pos + (int64_t)w.len; /* shorter than it said: stop there */
            continue;
        }
        if (rc != 0)
            break;
        bool base_ok = (first && any_first) ? info.base_offset >= seg->base_offset
                       : gaps_ok            ? info.base_offset >= seg->next_offset
                                            : info.base_offset == seg->next_offset;
        if (!base_ok || info.batch_bytes > file_size - pos)
            break;
        sl__segment_note_batch(seg, &info, pos, log->cfg.index_interval_bytes);
        pos += info.batch_bytes;
        first = false;
    }
    result = pos;
done:
    sl_free(w.buf);
    return result;
}

/* Cuts seg at end (and every later segment), logging what went. */
static int cut_tail(sl_log_t *log, sl_log_segment_t *seg, int64_t end, int64_t size,
                    const int64_t *later, size_t later_count)
{
    sl_disk_t *disk = &log->dir->disk;
    SL_LOG(SL_LOG_WARN, "log",
           "truncating torn or corrupt tail dir=%s segment=%020" PRId64 ".log position=%" PRId64
           " bytes_cut=%" PRId64 " later_segments_dropped=%zu",
           log->path, seg->base_offset, end, size - end, later_count);
    int rc = disk->ops->ftruncate(disk, seg->fd, end);
    if (rc == 0)
        rc = disk->ops->fsync(disk, seg->fd);
    for (size_t i = 0; rc == 0 && i < later_count; i++)
        rc = sl__segment_delete_files(log, later[i]);
    if (rc == 0 && later_count > 0)
        rc = disk->ops->fsync_dir(disk, log->path);
    return rc;
}

/* Opens one segment, trusting or rebuilding its indexes. *cut is set when the walk cut it. */
static int recover_segment(sl_log_t *log, const int64_t *bases, size_t i, size_t count, bool *cut)
{
    sl_disk_t *disk = &log->dir->disk;
    char p[SL_LOG_PATH_BYTES_MAX];
    int rc = sl__segment_path(log, bases[i], ".log", p, sizeof p);
    int fd = rc < 0 ? rc : disk->ops->open(disk, p, 0);
    if (fd < 0)
        return fd;
    int64_t size = disk->ops->file_size(disk, fd);
    sl_log_segment_t *seg = size < 0 ? NULL : sl__segment_wrap(bases[i], fd);
    if (seg == NULL || (rc = sl__log_segments_push(log, seg)) < 0) {
        (void)disk->ops->close(disk, fd); /* read so far only */
        sl_free(seg);
        return size < 0 ? (int)size : seg == NULL ? -ENOMEM : rc;
    }
    bool newest = i + 1 == count;
    bool gaps_ok = bases[i] < log->cleaner_checkpoint; /* compacted: offsets may jump */
    bool trusted =
        sl__segment_load_indexes(log, seg, size) == 0 && (!newest || log->dir->was_clean);
    int64_t end = size;
    if (trusted && !newest) {
        seg->next_offset = bases[i + 1];
    } else if (trusted) {
        int64_t from = seg->oidx_count ? seg->oidx[seg->oidx_count - 1].position : 0;
        end = walk(log, seg, from, size, false, true, gaps_ok);
        trusted = end == size;
    }
    if (!trusted && end >= 0) {
        sl__segment_drop_indexes(seg);
        seg->next_offset = seg->base_offset;
        seg->bytes_since_index = 0;
        end = walk(log, seg, 0, size, true, false, gaps_ok);
    }
    if (end < 0)
        return (int)end;
    /* A rolled segment must end where the next begins: a shorter one lost its unsynced tail in
     * a crash after the roll, and what follows it cannot stay (offsets are dense). A compacted
     * segment may end early (its last records were removed); it only must not overlap. */
    bool short_end = !newest && seg->next_offset != bases[i + 1];
    if (gaps_ok && !newest && seg->next_offset < bases[i + 1]) {
        seg->next_offset = bases[i + 1];
        short_end = false;
    }
    *cut = end < size || short_end;
    if (*cut && (rc = cut_tail(log, seg, end, size, bases + i + 1, count - i - 1)) < 0)
        return rc;
    seg->size = seg->written_pos = seg->synced_pos = end;
    seg->index_flushed = trusted && !*cut && !newest; /* the newest is rewritten at close */
    if (end > 0)
        seg->created_ms = log->dir->clock->monotonic_ms(log->dir->clock->data);
    if (seg->max_timestamp > log->max_timestamp) {
        log->max_timestamp = seg->max_timestamp;
        log->offset_of_max_timestamp = seg->offset_of_max_timestamp;
    }
    return 0;
}

int sl__log_recover(sl_log_t *log)
{
    names_t n = {.log = log};
    int rc = sl__cleaner_recover_files(log); /* first: it may rename segment files */
    if (rc == 0)
        rc = log->dir->disk.ops->list_dir(&log->dir->disk, log->path, collect_name, &n);
    if (rc < 0)
        goto done;
    if (n.count > 1)
        qsort(n.bases, n.count, sizeof *n.bases, cmp_i64);
    bool cut = false;
    for (size_t i = 0; i < n.count && !cut && rc == 0; i++)
        rc = recover_segment(log, n.bases, i, n.count, &cut);
    if (rc == 0 && log->seg_count == 0) {
        sl_log_segment_t *seg = NULL;
        rc = sl__segment_create(log, 0, &seg);
        if (rc == 0 && (rc = sl__log_segments_push(log, seg)) < 0)
            sl__segment_free(log->dir, seg);
    }
    /* The newest segment is the active one: index files on disk (from a clean close, or stale
     * after a cut) must not outlive it growing, or a crash after its roll would have recovery
     * trust them without walking its new, possibly torn, tail. They are written again once it is
     * rolled and synced, or at close. */
    if (rc == 0)
        rc = sl__segment_delete_index_files(log, log->segs[log->seg_count - 1]->base_offset);
    if (rc == 0) {
        log->log_start_offset = log->segs[0]->base_offset;
        log->log_end_offset = log->segs[log->seg_count - 1]->next_offset;
    }
done:
    sl_free(n.bases);
    return rc;
}
