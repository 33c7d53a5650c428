/* segment: one <base offset>.log file with its sparse offset index and time index, kept in memory
 * and written to .index/.timeindex (Kafka's byte layout) once the segment is synced or closed.
 * Invariants: index entries grow strictly in offset and position; time index entries grow strictly
 * in timestamp; every indexed position is a batch start below the segment size. */
#include <stdio.h>
#include <string.h>

#include "log_int.h"

int sl__segment_path(const sl_log_t *log, int64_t base_offset, const char *ext, char *out,
                     size_t cap)
{
    int n = snprintf(out, cap, "%s/%020" PRId64 "%s", log->path, base_offset, ext);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* "<20 digits><ext><suffix>": the base offset. */
bool sl__segment_name_parse(const char *name, const char *ext, const char *suffix, int64_t *base)
{
    size_t el = strlen(ext), sl = strlen(suffix);
    if (strlen(name) != 20 + el + sl || memcmp(name + 20, ext, el) != 0 ||
        strcmp(name + 20 + el, suffix) != 0)
        return false;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return true;
}

static sl_log_segment_t *segment_new(int64_t base_offset, int fd)
{
    sl_log_segment_t *seg = sl_calloc(1, sizeof *seg);
    if (seg == NULL)
        return NULL;
    seg->base_offset = base_offset;
    seg->next_offset = base_offset;
    seg->fd = fd;
    seg->max_timestamp = -1;
    seg->offset_of_max_timestamp = -1;
    return seg;
}

int sl__segment_create(sl_log_t *log, int64_t base_offset, sl_log_segment_t **out)
{
    sl_disk_t *disk = &log->dir->disk;
    char path[SL_LOG_PATH_BYTES_MAX];
    static const char *const stale[] = {".index", ".timeindex"};
    for (size_t i = 0; i < SL_ARRAY_LEN(stale); i++) {
        /* Index files of an older incarnation of this base offset would lie about the new one. */
        if (sl__segment_path(log, base_offset, stale[i], path, sizeof path) == 0)
            (void)disk->ops->unlink(disk, path); /* usually -ENOENT */
    }
    int rc = sl__segment_path(log, base_offset, ".log", path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = disk->ops->open(disk, path, SL_DISK_OPEN_CREATE | SL_DISK_OPEN_TRUNCATE);
    if (fd < 0)
        return fd;
    sl_log_segment_t *seg = segment_new(base_offset, fd);
    if (seg == NULL) {
        (void)disk->ops->close(disk, fd); /* nothing to report beyond -ENOMEM */
        return -ENOMEM;
    }
    *out = seg;
    return 0;
}

/* Wraps an existing .log file (recovery). */
sl_log_segment_t *sl__segment_wrap(int64_t base_offset, int fd)
{
    return segment_new(base_offset, fd);
}

void sl__segment_free(sl_log_dir_t *dir, sl_log_segment_t *seg)
{
    if (seg == NULL)
        return;
    SL_ASSERT(seg->ops_in_flight == 0);
    if (seg->fd >= 0)
        (void)dir->disk.ops->close(&dir->disk, seg->fd); /* read-mostly fd: nothing to lose */
    sl_free(seg->oidx);
    sl_free(seg->tidx);
    sl_free(seg);
}

static int grow(void **arr, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = sl_realloc(*arr, ncap * elem);
    if (p == NULL)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int time_index_add(sl_log_segment_t *seg, int64_t ts, int64_t offset)
{
    if (ts < 0 || (seg->tidx_count > 0 && ts <= seg->tidx[seg->tidx_count - 1].timestamp))
        return 0;
    if (grow((void **)&seg->tidx, &seg->tidx_cap, seg->tidx_count, sizeof *seg->tidx) < 0)
        return -ENOMEM;
    seg->tidx[seg->tidx_count++] =
        (sl_time_index_entry_t){ts, (uint32_t)(offset - seg->base_offset)};
    return 0;
}

int sl__segment_index_add(sl_log_segment_t *seg, int64_t last_offset, int64_t position,
                          int64_t max_timestamp_so_far, int64_t offset_of_max, bool force_time)
{
    SL_ASSERT(last_offset >= seg->base_offset);
    SL_ASSERT(position >= 0 && position <= UINT32_MAX);
    if (!force_time) {
        sl_offset_index_entry_t *last = seg->oidx_count ? &seg->oidx[seg->oidx_count - 1] : NULL;
        uint32_t rel = (uint32_t)(last_offset - seg->base_offset);
        if (last == NULL || (rel > last->relative_offset && position > last->position)) {
            if (grow((void **)&seg->oidx, &seg->oidx_cap, seg->oidx_count, sizeof *seg->oidx) < 0)
                return -ENOMEM;
            seg->oidx[seg->oidx_count++] = (sl_offset_index_entry_t){rel, (uint32_t)position};
        }
    }
    return time_index_add(seg, max_timestamp_so_far, offset_of_max);
}

/* Kafka LogSegment.append's bookkeeping for one batch at position. Index growth that fails for
 * lack of memory only makes the index sparser, which lookups tolerate. */
void sl__segment_note_batch(sl_log_segment_t *seg, const sl_batch_info_t *info, int64_t position,
                            int32_t index_interval_bytes)
{
    if (info->max_timestamp > seg->max_timestamp) {
        seg->max_timestamp = info->max_timestamp;
        seg->offset_of_max_timestamp = info->base_offset;
    }
    if (seg->bytes_since_index > index_interval_bytes) {
        (void)sl__segment_index_add(seg, info->last_offset, position, seg->max_timestamp,
                                    seg->offset_of_max_timestamp, false); /* see above */
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += info->batch_bytes;
    seg->next_offset = info->last_offset + 1;
    seg->index_flushed = false; /* the files no longer cover this batch */
}

int64_t sl__segment_lookup_offset(const sl_log_segment_t *seg, int64_t offset)
{
    if (offset < seg->base_offset)
        return 0;
    size_t lo = 0, hi = seg->oidx_count; /* first entry with offset > target */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->base_offset + seg->oidx[mid].relative_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : seg->oidx[lo - 1].position;
}

int64_t sl__segment_lookup_time(const sl_log_segment_t *seg, int64_t timestamp)
{
    size_t lo = 0, hi = seg->tidx_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->tidx[mid].timestamp <= timestamp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? seg->base_offset : seg->base_offset + seg->tidx[lo - 1].relative_offset;
}

static int write_file_atomic(sl_disk_t *disk, const char *path, const uint8_t *bytes, size_t len)
{
    char tmp[SL_LOG_PATH_BYTES_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    int fd = disk->ops->open(disk, tmp, SL_DISK_OPEN_CREATE | SL_DISK_OPEN_TRUNCATE);
    if (fd < 0)
        return fd;
    int64_t w = disk->ops->pwrite_sync(disk, fd, bytes, len, 0);
    int rc = w < 0 ? (int)w : disk->ops->fsync(disk, fd);
    int crc = disk->ops->close(disk, fd);
    if (rc == 0)
        rc = crc;
    if (rc == 0)
        rc = disk->ops->rename(disk, tmp, path);
    if (rc != 0)
        (void)disk->ops->unlink(disk, tmp); /* best effort: the error that matters is rc */
    return rc;
}

/* Exposed for log.c (partition.metadata, leader-epoch-checkpoint). */
int sl__write_file_atomic(sl_log_t *log, const char *path, const uint8_t *bytes, size_t len)
{
    return write_file_atomic(&log->dir->disk, path, bytes, len);
}

int sl_log_dir_replace_file(sl_log_dir_t *dir, const char *path, const void *bytes, size_t len)
{
    SL_ASSERT(dir != NULL && path != NULL);
    char parent[SL_LOG_PATH_BYTES_MAX];
    const char *slash = strrchr(path, '/');
    size_t plen = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (plen >= sizeof parent)
        return -ENAMETOOLONG;
    memcpy(parent, slash == NULL ? "." : path, plen);
    parent[plen] = 0;
    int rc = write_file_atomic(&dir->disk, path, bytes, len);
    if (rc == 0) /* the rename itself must survive a crash */
        rc = dir->disk.ops->fsync_dir(&dir->disk, parent);
    return rc;
}

int sl__segment_write_indexes(sl_log_t *log, sl_log_segment_t *seg)
{
    return sl__segment_write_indexes_as(log, seg, "");
}

int sl__segment_path_suffixed(const sl_log_t *log, int64_t base, const char *ext,
                              const char *suffix, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%020" PRId64 "%s%s", log->path, base, ext, suffix);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int sl__segment_write_indexes_as(sl_log_t *log, sl_log_segment_t *seg, const char *suffix)
{
    size_t olen = seg->oidx_count * SL_OFFSET_INDEX_ENTRY_BYTES;
    size_t tlen = seg->tidx_count * SL_TIME_INDEX_ENTRY_BYTES;
    uint8_t *buf = sl_malloc(SL_MAX(olen, tlen) + 1);
    if (buf == NULL)
        return -ENOMEM;
    char path[SL_LOG_PATH_BYTES_MAX];
    for (size_t i = 0; i < seg->oidx_count; i++) {
        sl__put_be32(buf + i * 8, seg->oidx[i].relative_offset);
        sl__put_be32(buf + i * 8 + 4, seg->oidx[i].position);
    }
    int rc = sl__segment_path_suffixed(log, seg->base_offset, ".index", suffix, path, sizeof path);
    if (rc == 0)
        rc = write_file_atomic(&log->dir->disk, path, buf, olen);
    for (size_t i = 0; rc == 0 && i < seg->tidx_count; i++) {
        sl__put_be64(buf + i * 12, seg->tidx[i].timestamp);
        sl__put_be32(buf + i * 12 + 8, seg->tidx[i].relative_offset);
    }
    if (rc == 0)
        rc = sl__segment_path_suffixed(log, seg->base_offset, ".timeindex", suffix, path,
                                       sizeof path);
    if (rc == 0)
        rc = write_file_atomic(&log->dir->disk, path, buf, tlen);
    sl_free(buf);
    if (rc == 0)
        seg->index_flushed = true;
    return rc;
}

/* Reads a whole small file; -ENOENT when missing. */
static int read_file(sl_disk_t *disk, const char *path, uint8_t **out, size_t *len)
{
    int fd = disk->ops->open(disk, path, SL_DISK_OPEN_READONLY);
    if (fd < 0)
        return fd;
    int64_t size = disk->ops->file_size(disk, fd);
    int rc = size < 0 ? (int)size : 0;
    uint8_t *buf = NULL;
    if (rc == 0 && size > (int64_t)(256 * SL_MiB))
        rc = SL_ECORRUPT;
    if (rc == 0 && (buf = sl_malloc((size_t)size + 1)) == NULL)
        rc = -ENOMEM;
    if (rc == 0) {
        int64_t n = disk->ops->pread_sync(disk, fd, buf, (size_t)size, 0);
        rc = n < 0 ? (int)n : n != size ? SL_ECORRUPT : 0;
    }
    (void)disk->ops->close(disk, fd); /* read-only */
    if (rc != 0) {
        sl_free(buf);
        return rc;
    }
    buf[size] = 0;
    *out = buf;
    *len = (size_t)size;
    return 0;
}

int sl__read_file(sl_log_t *log, const char *path, uint8_t **out, size_t *len)
{
    return read_file(&log->dir->disk, path, out, len);
}

int sl_log_dir_read_file(sl_log_dir_t *dir, const char *path, uint8_t **out, size_t *len)
{
    SL_ASSERT(dir != NULL && path != NULL && out != NULL && len != NULL);
    return read_file(&dir->disk, path, out, len);
}

static int delete_files(sl_log_t *log, int64_t base, bool with_log)
{
    static const char *const exts[] = {".index", ".timeindex", ".log"};
    char p[SL_LOG_PATH_BYTES_MAX];
    for (size_t i = 0; i < SL_ARRAY_LEN(exts) - (with_log ? 0 : 1); i++) {
        int rc = sl__segment_path(log, base, exts[i], p, sizeof p);
        if (rc == 0)
            rc = log->dir->disk.ops->unlink(&log->dir->disk, p);
        if (rc < 0 && rc != -ENOENT)
            return rc;
    }
    return 0;
}

int sl__segment_delete_files(sl_log_t *log, int64_t base)
{
    return delete_files(log, base, true);
}

int sl__segment_delete_index_files(sl_log_t *log, int64_t base)
{
    return delete_files(log, base, false);
}

static int load_offset_index(sl_log_segment_t *seg, const uint8_t *b, size_t len, int64_t file_size)
{
    if (len % SL_OFFSET_INDEX_ENTRY_BYTES != 0)
        return SL_ECORRUPT;
    size_t count = len / SL_OFFSET_INDEX_ENTRY_BYTES;
    seg->oidx = sl_malloc(count * sizeof *seg->oidx + 1);
    if (seg->oidx == NULL)
        return -ENOMEM;
    seg->oidx_cap = count;
    for (size_t i = 0; i < count; i++) {
        sl_offset_index_entry_t e = {sl__be32(b + i * 8), sl__be32(b + i * 8 + 4)};
        if (e.position >= file_size)
            return SL_ECORRUPT;
        if (i > 0 && (e.relative_offset <= seg->oidx[i - 1].relative_offset ||
                      e.position <= seg->oidx[i - 1].position))
            return SL_ECORRUPT;
        seg->oidx[seg->oidx_count++] = e;
    }
    return 0;
}

static int load_time_index(sl_log_segment_t *seg, const uint8_t *b, size_t len)
{
    if (len % SL_TIME_INDEX_ENTRY_BYTES != 0)
        return SL_ECORRUPT;
    size_t count = len / SL_TIME_INDEX_ENTRY_BYTES;
    seg->tidx = sl_malloc(count * sizeof *seg->tidx + 1);
    if (seg->tidx == NULL)
        return -ENOMEM;
    seg->tidx_cap = count;
    for (size_t i = 0; i < count; i++) {
        sl_time_index_entry_t e = {sl__be64(b + i * 12), sl__be32(b + i * 12 + 8)};
        if (e.timestamp < 0 || (i > 0 && e.timestamp <= seg->tidx[i - 1].timestamp))
            return SL_ECORRUPT;
        seg->tidx[seg->tidx_count++] = e;
    }
    if (count > 0) {
        seg->max_timestamp = seg->tidx[count - 1].timestamp;
        seg->offset_of_max_timestamp = seg->base_offset + seg->tidx[count - 1].relative_offset;
    }
    return 0;
}

void sl__segment_drop_indexes(sl_log_segment_t *seg)
{
    sl_free(seg->oidx);
    sl_free(seg->tidx);
    seg->oidx = NULL;
    seg->tidx = NULL;
    seg->oidx_count = seg->oidx_cap = seg->tidx_count = seg->tidx_cap = 0;
    seg->max_timestamp = seg->offset_of_max_timestamp = -1;
}

/* 0 when both index files were read and are consistent with a file_size-byte segment; otherwise
 * the indexes are left empty and an error says why (-ENOENT when missing). */
int sl__segment_load_indexes(sl_log_t *log, sl_log_segment_t *seg, int64_t file_size)
{
    char path[SL_LOG_PATH_BYTES_MAX];
    uint8_t *b = NULL;
    size_t len = 0;
    sl__segment_drop_indexes(seg);
    int rc = sl__segment_path(log, seg->base_offset, ".index", path, sizeof path);
    if (rc == 0)
        rc = read_file(&log->dir->disk, path, &b, &len);
    if (rc == 0)
        rc = load_offset_index(seg, b, len, file_size);
    sl_free(b);
    b = NULL;
    if (rc == 0)
        rc = sl__segment_path(log, seg->base_offset, ".timeindex", path, sizeof path);
    if (rc == 0)
        rc = read_file(&log->dir->disk, path, &b, &len);
    if (rc == 0)
        rc = load_time_index(seg, b, len);
    sl_free(b);
    if (rc != 0)
        sl__segment_drop_indexes(seg);
    seg->index_flushed = rc == 0;
    return rc;
}

int sl__log_segments_push(sl_log_t *log, sl_log_segment_t *seg)
{
    if (log->seg_count >= SL_LOG_SEGMENTS_MAX)
        return SL_ELIMIT;
    if (grow((void **)&log->segs, &log->seg_cap, log->seg_count, sizeof *log->segs) < 0)
        return -ENOMEM;
    SL_ASSERT(log->seg_count == 0 || log->segs[log->seg_count - 1]->base_offset < seg->base_offset);
    log->segs[log->seg_count++] = seg;
    return 0;
}

size_t sl__log_segment_find(const sl_log_t *log, int64_t offset)
{
    SL_ASSERT(log->seg_count > 0);
    size_t lo = 0, hi = log->seg_count; /* first segment with base > offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}
