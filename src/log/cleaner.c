/* cleaner: log compaction (Kafka's LogCleaner) for cleanup.policy=compact logs. A job keeps the
 * latest record per key in the closed segments of a log, and removes tombstones once their delete
 * horizon (KIP-534: cleaning time + delete.retention.ms, stored in the batch) has passed.
 *
 * A job runs in three steps (include/sluice/log.h): begin on the loop thread pins the segments
 * from the log start to the first uncleanable offset; run, on any thread, builds the offset map
 * over the dirty part (from cleaner-offset-checkpoint) and rewrites the pinned segments, grouped up
 * to segment.bytes, into <base>.log.cleaned with its index files; end, on the loop thread, swaps
 * them in: checkpoint, .cleaned -> .swap (the commit point), old files unlinked, .swap -> final
 * name, with an fsync of the dir between steps. Recovery (sl__cleaner_recover_files) discards
 * .cleaned files and finishes a swap that reached .swap, so a crash at any point loses nothing and
 * duplicates nothing.
 *
 * Invariants: offsets never change (a batch keeps its base offset and last offset delta; records
 * keep their offsets; gaps appear); a batch holding an active idempotent producer's last offset is
 * kept, as an empty batch header if all its records go (Kafka's RETAIN_EMPTY), so producer state
 * recovers from the files; run touches nothing but the job (the log's segment files are only read,
 * and stay pinned: retention, close and delete wait); end swaps only while no reader uses a pinned
 * segment (otherwise -EAGAIN: the caller retries). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleaner_int.h"
#include "sluice/records.h"

#define CLEAN_READ_CHUNK_BYTES (1024 * 1024)
#define CLEAN_WRITE_BUFFER_BYTES (1024 * 1024)
#define CLEAN_MAP_BYTES_MIN (64 * 1024)
/* A record takes at least ~8 bytes on disk (length, attributes, deltas, key, value lengths);
 * sizing the map for dirty_bytes / 8 keys covers the dirty part in one pass. */
#define CLEAN_DIRTY_BYTES_PER_KEY 8

typedef struct {
    int64_t base_offset, next_offset, size;
    int fd;
} clean_input_t;

typedef struct {
    int64_t producer_id, last_offset;
} producer_last_t;

typedef struct {
    size_t first, count;   /* inputs[first, first + count) */
    sl_log_segment_t *out; /* the cleaned segment: fd of <base>.log.cleaned, indexes in memory */
} clean_group_t;

struct sl_log_clean_job {
    sl_log_t *log; /* loop thread only, except immutable path and disk */
    sl_log_config_t cfg;
    clean_input_t *inputs; /* log->segs[0, input_count) at begin, pinned */
    size_t input_count;
    producer_last_t *producers; /* sorted by id */
    size_t producer_count;
    int64_t first_dirty_offset, end_offset, now_ms;
    size_t map_bytes;
    atomic_bool cancelled;
    /* results of run */
    int rc;
    clean_group_t *groups;
    size_t group_count;
    int64_t cleaned_to;
    int64_t next_horizon_ms; /* earliest delete horizon of a kept tombstone, INT64_MAX: none */
    sl_log_clean_stats_t stats;
};

/* ---- choosing what to clean (loop thread) ---------------------------------------------------- */

static int64_t first_dirty_offset(const sl_log_t *log)
{
    int64_t d = log->cleaner_checkpoint;
    if (d < log->log_start_offset || d > log->log_end_offset)
        d = log->log_start_offset; /* never cleaned, or below what retention left */
    return d;
}

/* How many segments from the start are cleanable: closed, synced, below the high watermark, and
 * older than min.compaction.lag.ms by their largest timestamp. */
static size_t cleanable_count(const sl_log_t *log, int64_t now_ms)
{
    size_t n = 0;
    for (; n + 1 < log->seg_count; n++) {
        const sl_log_segment_t *seg = log->segs[n];
        if (seg->synced_pos < seg->size || seg->sync_in_flight || seg->in_round ||
            seg->next_offset > log->high_watermark)
            break;
        if (log->cfg.min_compaction_lag_ms > 0 && seg->max_timestamp >= 0 &&
            seg->max_timestamp > now_ms - log->cfg.min_compaction_lag_ms)
            break;
    }
    return n;
}

static void dirty_bytes(const sl_log_t *log, size_t n, int64_t first_dirty, int64_t *clean,
                        int64_t *dirty)
{
    *clean = *dirty = 0;
    for (size_t i = 0; i < n; i++) {
        if (log->segs[i]->next_offset <= first_dirty)
            *clean += log->segs[i]->size;
        else
            *dirty += log->segs[i]->size;
    }
}

double sl_log_clean_priority(const sl_log_t *log, int64_t now_ms)
{
    SL_ASSERT(log != NULL);
    if (!log->cfg.compact || log->clean_job != NULL || log->uncleanable || log->dir->offline ||
        log->dir->closing)
        return -1;
    size_t n = cleanable_count(log, now_ms);
    if (n == 0)
        return -1;
    int64_t first_dirty = first_dirty_offset(log), clean, dirty;
    dirty_bytes(log, n, first_dirty, &clean, &dirty);
    if (clean + dirty == 0)
        return -1;
    if (log->clean_due_ms <= now_ms)
        return 2; /* a kept tombstone's delete horizon passed */
    if (dirty > 0 && log->cfg.max_compaction_lag_ms < INT64_MAX) {
        /* The first dirty segment's largest timestamp: if even that is older than the lag, the
         * segment is overdue (a segment without timestamps never forces cleaning). */
        for (size_t i = 0; i < n; i++) {
            const sl_log_segment_t *seg = log->segs[i];
            if (seg->next_offset <= first_dirty)
                continue;
            if (seg->max_timestamp >= 0 &&
                now_ms - seg->max_timestamp > log->cfg.max_compaction_lag_ms)
                return 2;
            break;
        }
    }
    double ratio = (double)dirty / (double)(clean + dirty);
    return ratio > log->cfg.min_cleanable_dirty_ratio ? ratio : -1;
}

static int cmp_producer(const void *a, const void *b)
{
    int64_t x = ((const producer_last_t *)a)->producer_id;
    int64_t y = ((const producer_last_t *)b)->producer_id;
    return (x > y) - (x < y);
}

/* The last data offset of every producer the log knows (Kafka's lastRecordsOfActiveProducers). */
static int collect_producers(const sl_log_t *log, sl_log_clean_job_t *job)
{
    const sl_producer_table_t *t = &log->producers;
    if (t->count == 0)
        return 0;
    job->producers = sl_malloc(t->count * sizeof *job->producers);
    if (job->producers == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        const sl_producer_entry_t *e = &t->slots[i];
        if (e->producer_id < 0 || e->batch_count == 0)
            continue;
        const sl_producer_batch_t *last =
            &e->batches[(e->batch_first + e->batch_count - 1) % SL_LOG_PRODUCER_BATCHES];
        job->producers[job->producer_count++] =
            (producer_last_t){e->producer_id, last->last_offset};
    }
    qsort(job->producers, job->producer_count, sizeof *job->producers, cmp_producer);
    return 0;
}

static void job_free(sl_log_clean_job_t *job)
{
    for (size_t i = 0; i < job->group_count; i++)
        if (job->groups[i].out != NULL)
            sl__segment_free(job->log->dir, job->groups[i].out);
    sl_free(job->groups);
    sl_free(job->inputs);
    sl_free(job->producers);
    sl_free(job);
}

int sl_log_clean_begin(sl_log_t *log, const sl_log_cleaner_config_t *cc, int64_t now_ms,
                       sl_log_clean_job_t **out)
{
    SL_ASSERT(log != NULL && cc != NULL && out != NULL);
    if (sl_log_clean_priority(log, now_ms) < 0)
        return SL_ENOTFOUND;
    size_t n = cleanable_count(log, now_ms);
    sl_log_clean_job_t *job = sl_calloc(1, sizeof *job);
    if (job == NULL)
        return -ENOMEM;
    job->log = log;
    job->cfg = log->cfg;
    job->now_ms = now_ms;
    job->first_dirty_offset = first_dirty_offset(log);
    job->end_offset = log->segs[n]->base_offset;
    job->next_horizon_ms = INT64_MAX;
    atomic_init(&job->cancelled, false);
    int64_t clean, dirty;
    dirty_bytes(log, n, job->first_dirty_offset, &clean, &dirty);
    size_t want =
        (size_t)SL_MIN((uint64_t)dirty / CLEAN_DIRTY_BYTES_PER_KEY * sizeof(sl_offset_map_slot_t),
                       (uint64_t)SIZE_MAX / 2);
    /* Sized for the dirty part (at least a small floor), never above the configured bound. */
    job->map_bytes = SL_MIN(SL_MAX(want, (size_t)CLEAN_MAP_BYTES_MIN), cc->dedupe_buffer_bytes);
    job->inputs = sl_malloc(n * sizeof *job->inputs);
    if (job->inputs == NULL || collect_producers(log, job) < 0) {
        job_free(job);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        sl_log_segment_t *seg = log->segs[i];
        job->inputs[i] = (clean_input_t){seg->base_offset, seg->next_offset, seg->size, seg->fd};
        seg->ops_in_flight++; /* pinned: retention, close and delete wait for end */
    }
    job->input_count = n;
    log->ops_in_flight++;
    log->dir->ops_in_flight++;
    log->clean_job = job;
    *out = job;
    return 0;
}

void sl_log_clean_cancel(sl_log_clean_job_t *job)
{
    atomic_store(&job->cancelled, true);
}

/* ---- the heavy part (any thread) ------------------------------------------------------------- */

/* Reads a segment batch by batch through a window. */
typedef struct {
    sl_disk_t *disk;
    const clean_input_t *in;
    int64_t pos;
    uint8_t *buf;
    size_t cap, len;
    int64_t buf_pos;
} reader_t;

/* 1 and the whole batch at *p, 0 at the end, SL_ECORRUPT or -errno. */
static int reader_next(reader_t *r, const uint8_t **p, sl_batch_info_t *info)
{
    if (r->pos >= r->in->size)
        return 0;
    bool refilled = false;
    for (;;) {
        size_t off = (size_t)(r->pos - r->buf_pos);
        size_t avail = r->pos >= r->buf_pos && off < r->len ? r->len - off : 0;
        int rc = sl__batch_check(avail ? r->buf + off : NULL, avail, false, info);
        if (rc == 0 && (uint64_t)info->batch_bytes <= avail) {
            if (info->batch_bytes > r->in->size - r->pos)
                return SL_ECORRUPT;
            *p = r->buf + off;
            return 1;
        }
        if ((rc != 0 && rc != SL_EINCOMPLETE) || refilled)
            return SL_ECORRUPT;
        size_t need = CLEAN_READ_CHUNK_BYTES;
        if (rc == 0)
            need = SL_MAX(need, (size_t)info->batch_bytes);
        need = (size_t)SL_MIN((int64_t)need, r->in->size - r->pos);
        if (need > r->cap) {
            uint8_t *nb = sl_realloc(r->buf, need);
            if (nb == NULL)
                return -ENOMEM;
            r->buf = nb;
            r->cap = need;
        }
        int64_t n = r->disk->ops->pread_sync(r->disk, r->in->fd, r->buf, need, r->pos);
        if (n < 0)
            return (int)n;
        r->buf_pos = r->pos;
        r->len = (size_t)n;
        refilled = true;
    }
}

static bool job_cancelled(sl_log_clean_job_t *job)
{
    return atomic_load_explicit(&job->cancelled, memory_order_relaxed);
}

static uint16_t batch_attributes(const uint8_t *p)
{
    return (uint16_t)(p[SL_BATCH_OFF_ATTRIBUTES] << 8 | p[SL_BATCH_OFF_ATTRIBUTES + 1]);
}

static bool batch_is_control(const uint8_t *p)
{
    return (batch_attributes(p) & SL_BATCH_ATTR_CONTROL) != 0;
}

typedef struct {
    sl_offset_map_t *map;
    int64_t from;
    bool full;
} map_fill_t;

static int map_record(const sl_record_t *rec, void *data)
{
    map_fill_t *f = data;
    if (rec->offset < f->from || rec->key.ptr == NULL)
        return 0; /* a keyless record in a compacted log is removed (as Kafka) */
    if (!sl__offset_map_put(f->map, rec->key, rec->offset)) {
        f->full = true;
        return 1;
    }
    return 0;
}

/* Fills the map from the dirty part, whole batches at a time, until it is full; sets
 * map->latest_offset to the last offset covered (job->cleaned_to = latest + 1). */
static int build_map(sl_log_clean_job_t *job, sl_offset_map_t *map, sl_buf_t *scratch)
{
    sl_disk_t *disk = &job->log->dir->disk;
    map->latest_offset = job->first_dirty_offset - 1;
    map_fill_t fill = {.map = map, .from = job->first_dirty_offset};
    int rc = 0;
    for (size_t i = 0; i < job->input_count && rc == 0 && !fill.full; i++) {
        const clean_input_t *in = &job->inputs[i];
        if (in->next_offset <= job->first_dirty_offset)
            continue;
        reader_t r = {.disk = disk, .in = in};
        const uint8_t *p;
        sl_batch_info_t info;
        while (rc == 0 && (rc = reader_next(&r, &p, &info)) == 1) {
            rc = 0;
            r.pos += info.batch_bytes;
            if (job_cancelled(job)) {
                rc = SL_ECLOSED;
                break;
            }
            if (info.last_offset < job->first_dirty_offset)
                continue;
            uint32_t count = sl__be32(p + SL_BATCH_OFF_RECORD_COUNT);
            if (!batch_is_control(p)) {
                if (map->count + count > map->max_count) { /* the batch might not fit */
                    fill.full = true;
                    break;
                }
                rc = sl_records_iterate(p, (size_t)info.batch_bytes, scratch, map_record, &fill);
                if (rc < 0) {
                    SL_LOG(SL_LOG_ERROR, "log",
                           "cleaner cannot read records dir=%s base_offset=%" PRId64 " err=%s",
                           job->log->path, info.base_offset, sl_strerror(rc));
                    rc = SL_ECORRUPT;
                    break;
                }
                SL_ASSERT(rc == 0); /* fits: checked above */
            }
            map->latest_offset = info.last_offset;
        }
        sl_free(r.buf);
    }
    if (rc < 0)
        return rc;
    if (fill.full && map->latest_offset < job->first_dirty_offset)
        return SL_ELIMIT; /* not even one batch fits log.cleaner.dedupe.buffer.size */
    job->cleaned_to = fill.full ? map->latest_offset + 1 : job->end_offset;
    map->latest_offset = job->cleaned_to - 1;
    return 0;
}

/* What the filter decided about one batch's records. */
typedef struct {
    const sl_offset_map_t *map;
    int64_t now_ms;
    bool retain_deletes;
    sl_buf_t keep; /* one byte per record: 1 kept */
    int32_t kept, count;
    bool kept_tombstone;
    int64_t first_kept_timestamp;
} filter_t;

static int filter_record(const sl_record_t *rec, void *data)
{
    filter_t *f = data;
    bool keep;
    if (rec->offset > f->map->latest_offset) {
        keep = true; /* beyond what the map saw: nothing newer is known */
    } else if (rec->key.ptr == NULL) {
        keep = false;
    } else {
        int64_t found = sl__offset_map_get(f->map, rec->key);
        keep = found <= rec->offset && (rec->value.ptr != NULL || f->retain_deletes);
    }
    uint8_t b = keep;
    int rc = sl_buf_append(&f->keep, &b, 1);
    if (rc != 0)
        return rc;
    f->count++;
    if (keep) {
        if (f->kept == 0)
            f->first_kept_timestamp = rec->timestamp;
        f->kept++;
        f->kept_tombstone = f->kept_tombstone || rec->value.ptr == NULL;
    }
    return 0;
}

static void put_varlong(sl_buf_t *b, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        b->ptr[b->len++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    b->ptr[b->len++] = (uint8_t)u;
}

static size_t varlong_size(int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 1;
    for (; u >= 0x80; u >>= 7)
        n++;
    return n;
}

/* Re-encodes the kept records of a batch (pass two over its records). */
typedef struct {
    const filter_t *filter;
    sl_buf_t *out;
    int64_t base_timestamp, max_timestamp;
    int rc;
} encode_t;

static int encode_record(const sl_record_t *rec, void *data)
{
    encode_t *e = data;
    if (!e->filter->keep.ptr[rec->index])
        return 0;
    int64_t ts_delta = rec->timestamp - e->base_timestamp;
    int64_t key_len = rec->key.ptr ? (int64_t)rec->key.len : -1;
    int64_t value_len = rec->value.ptr ? (int64_t)rec->value.len : -1;
    size_t body = 1 + varlong_size(ts_delta) + varlong_size(rec->offset_delta) +
                  varlong_size(key_len) + (key_len > 0 ? (size_t)key_len : 0) +
                  varlong_size(value_len) + (value_len > 0 ? (size_t)value_len : 0) +
                  varlong_size(rec->header_count) + rec->headers.len;
    int rc = sl_buf_reserve(e->out, body + 10);
    if (rc != 0)
        return rc;
    sl_buf_t *b = e->out;
    put_varlong(b, (int64_t)body);
    b->ptr[b->len++] = (uint8_t)rec->attributes;
    put_varlong(b, ts_delta);
    put_varlong(b, rec->offset_delta);
    put_varlong(b, key_len);
    if (key_len > 0)
        memcpy(b->ptr + b->len, rec->key.ptr, (size_t)key_len), b->len += (size_t)key_len;
    put_varlong(b, value_len);
    if (value_len > 0)
        memcpy(b->ptr + b->len, rec->value.ptr, (size_t)value_len), b->len += (size_t)value_len;
    put_varlong(b, rec->header_count);
    if (rec->headers.len > 0)
        memcpy(b->ptr + b->len, rec->headers.ptr, rec->headers.len), b->len += rec->headers.len;
    if (rec->timestamp > e->max_timestamp)
        e->max_timestamp = rec->timestamp;
    return 0;
}

/* Kafka's DefaultRecordBatch.writeEmptyHeader: the batch's offsets and producer fields, no
 * records, both timestamps its MaxTimestamp, no compression. */
static int write_empty_header(const uint8_t *p, sl_buf_t *out)
{
    int rc = sl_buf_reserve(out, SL_BATCH_HEADER_BYTES);
    if (rc != 0)
        return rc;
    uint8_t *h = out->ptr + out->len;
    memcpy(h, p, SL_BATCH_HEADER_BYTES);
    sl__put_be32(h + SL_BATCH_OFF_LENGTH, SL_BATCH_HEADER_BYTES - SL_BATCH_LOG_OVERHEAD);
    uint16_t attrs = batch_attributes(p) &
                     (uint16_t) ~(SL_BATCH_ATTR_COMPRESSION_MASK | SL_BATCH_ATTR_DELETE_HORIZON);
    h[SL_BATCH_OFF_ATTRIBUTES] = (uint8_t)(attrs >> 8);
    h[SL_BATCH_OFF_ATTRIBUTES + 1] = (uint8_t)attrs;
    memcpy(h + SL_BATCH_OFF_BASE_TIMESTAMP, p + SL_BATCH_OFF_MAX_TIMESTAMP, 8);
    sl__put_be32(h + SL_BATCH_OFF_RECORD_COUNT, 0);
    sl__put_be32(h + SL_BATCH_OFF_CRC, sl_crc32c(0, h + SL_BATCH_OFF_ATTRIBUTES,
                                                 SL_BATCH_HEADER_BYTES - SL_BATCH_OFF_ATTRIBUTES));
    out->len += SL_BATCH_HEADER_BYTES;
    return 0;
}

/* A new batch with the kept records: same base offset, last offset delta, leader epoch, producer
 * fields and codec (Kafka's buildRetainedRecordsInto); horizon_ms >= 0 sets the delete horizon. */
static int write_rebuilt(const uint8_t *p, size_t len, const filter_t *f, int64_t horizon_ms,
                         sl_buf_t *scratch, sl_buf_t *records, sl_buf_t *compressed, sl_buf_t *out)
{
    uint16_t attrs = batch_attributes(p);
    int64_t orig_max = sl__be64(p + SL_BATCH_OFF_MAX_TIMESTAMP);
    bool log_append_time = (attrs & SL_BATCH_ATTR_LOG_APPEND_TIME) != 0;
    encode_t e = {.filter = f, .out = records, .max_timestamp = -1};
    e.base_timestamp = horizon_ms >= 0 ? horizon_ms : f->first_kept_timestamp;
    records->len = 0;
    int rc = sl_records_iterate(p, len, scratch, encode_record, &e);
    if (rc != 0)
        return rc < 0 ? rc : SL_ECORRUPT;
    if (log_append_time)
        e.max_timestamp = orig_max;
    sl_slice_t payload = {records->ptr, records->len};
    sl_compression_t codec = (sl_compression_t)(attrs & SL_BATCH_ATTR_COMPRESSION_MASK);
    if (codec != SL_COMPRESSION_NONE) {
        compressed->len = 0;
        rc = sl_records_compress(codec, payload, compressed);
        if (rc != 0)
            return rc;
        payload = (sl_slice_t){compressed->ptr, compressed->len};
    }
    size_t total = SL_BATCH_HEADER_BYTES + payload.len;
    if (total > SL_LOG_BATCH_BYTES_MAX)
        return SL_ELIMIT;
    rc = sl_buf_reserve(out, total);
    if (rc != 0)
        return rc;
    uint8_t *h = out->ptr + out->len;
    memcpy(h, p, SL_BATCH_HEADER_BYTES);
    sl__put_be32(h + SL_BATCH_OFF_LENGTH, (uint32_t)(total - SL_BATCH_LOG_OVERHEAD));
    if (horizon_ms >= 0)
        attrs |= SL_BATCH_ATTR_DELETE_HORIZON;
    h[SL_BATCH_OFF_ATTRIBUTES] = (uint8_t)(attrs >> 8);
    h[SL_BATCH_OFF_ATTRIBUTES + 1] = (uint8_t)attrs;
    sl__put_be64(h + SL_BATCH_OFF_BASE_TIMESTAMP, e.base_timestamp);
    sl__put_be64(h + SL_BATCH_OFF_MAX_TIMESTAMP, e.max_timestamp);
    sl__put_be32(h + SL_BATCH_OFF_RECORD_COUNT, (uint32_t)f->kept);
    memcpy(h + SL_BATCH_HEADER_BYTES, payload.ptr, payload.len);
    sl__put_be32(h + SL_BATCH_OFF_CRC,
                 sl_crc32c(0, h + SL_BATCH_OFF_ATTRIBUTES, total - SL_BATCH_OFF_ATTRIBUTES));
    out->len += total;
    return 0;
}

/* Per group: the buffers one batch after another reuses. */
typedef struct {
    sl_log_clean_job_t *job;
    const sl_offset_map_t *map;
    sl_buf_t scratch, records, compressed, out;
    filter_t filter;
} cleaning_t;

static bool producer_last_batch(const sl_log_clean_job_t *job, const uint8_t *p,
                                const sl_batch_info_t *info)
{
    sl_producer_batch_ref_t ref;
    if (!sl__producer_batch_read(p, &ref))
        return false;
    producer_last_t key = {.producer_id = ref.producer_id};
    const producer_last_t *found =
        bsearch(&key, job->producers, job->producer_count, sizeof key, cmp_producer);
    return found != NULL && found->last_offset == info->last_offset;
}

/* Appends what is kept of the batch at p to c->out (possibly nothing). */
static int clean_batch(cleaning_t *c, const uint8_t *p, const sl_batch_info_t *info)
{
    sl_log_clean_job_t *job = c->job;
    size_t len = (size_t)info->batch_bytes;
    sl_batch_info_t checked;
    if (sl__batch_check(p, len, true, &checked) != 0) {
        SL_LOG(SL_LOG_ERROR, "log", "cleaner found a corrupt batch dir=%s base_offset=%" PRId64,
               job->log->path, info->base_offset);
        return SL_ECORRUPT;
    }
    job->stats.records_read += info->last_offset - info->base_offset + 1;
    if (batch_is_control(p) || info->last_offset > c->map->latest_offset)
        return sl_buf_append(&c->out, p, len); /* markers (no transactions yet) and the unmapped */
    bool retain_empty = producer_last_batch(job, p, info);
    uint32_t count = sl__be32(p + SL_BATCH_OFF_RECORD_COUNT);
    if (count == 0)
        return retain_empty ? sl_buf_append(&c->out, p, len) : 0;
    uint16_t attrs = batch_attributes(p);
    bool has_horizon = (attrs & SL_BATCH_ATTR_DELETE_HORIZON) != 0;
    int64_t horizon = has_horizon ? sl__be64(p + SL_BATCH_OFF_BASE_TIMESTAMP) : -1;
    filter_t *f = &c->filter;
    f->map = c->map;
    f->now_ms = job->now_ms;
    f->retain_deletes = !has_horizon || job->now_ms < horizon;
    f->keep.len = 0;
    f->kept = f->count = 0;
    f->kept_tombstone = false;
    f->first_kept_timestamp = -1;
    int rc = sl_records_iterate(p, len, &c->scratch, filter_record, f);
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "log",
               "cleaner cannot read records dir=%s base_offset=%" PRId64 " err=%s", job->log->path,
               info->base_offset, sl_strerror(rc));
        return rc < 0 ? rc : SL_ECORRUPT;
    }
    job->stats.records_removed += f->count - f->kept;
    if (f->kept == 0) {
        if (!retain_empty)
            return 0;
        job->stats.batches_emptied++;
        return write_empty_header(p, &c->out);
    }
    bool set_horizon = f->kept_tombstone && !has_horizon;
    if (set_horizon)
        horizon = job->now_ms + job->cfg.delete_retention_ms;
    if (f->kept_tombstone && horizon < job->next_horizon_ms)
        job->next_horizon_ms = horizon;
    if (f->kept == f->count && !set_horizon)
        return sl_buf_append(&c->out, p, len); /* unchanged: the original bytes */
    return write_rebuilt(p, len, f, horizon, &c->scratch, &c->records, &c->compressed, &c->out);
}

/* Writes the buffered batches at the end of the output segment, noting each in its indexes. */
static int flush_out(cleaning_t *c, sl_log_segment_t *seg)
{
    sl_log_clean_job_t *job = c->job;
    sl_disk_t *disk = &job->log->dir->disk;
    if (c->out.len == 0)
        return 0;
    int64_t n = disk->ops->pwrite_sync(disk, seg->fd, c->out.ptr, c->out.len, seg->size);
    if (n < 0)
        return (int)n;
    for (size_t pos = 0; pos < c->out.len;) {
        sl_batch_info_t info;
        int rc = sl__batch_check(c->out.ptr + pos, c->out.len - pos, false, &info);
        SL_ASSERT(rc == 0);
        sl__segment_note_batch(seg, &info, seg->size + (int64_t)pos, job->cfg.index_interval_bytes);
        pos += (size_t)info.batch_bytes;
    }
    seg->size += (int64_t)c->out.len;
    job->stats.bytes_written += (int64_t)c->out.len;
    c->out.len = 0;
    return 0;
}

/* Rewrites inputs[g->first, +count) into <base>.log.cleaned and its .index/.timeindex.cleaned. */
static int clean_group(cleaning_t *c, clean_group_t *g)
{
    sl_log_clean_job_t *job = c->job;
    sl_log_t *log = job->log;
    sl_disk_t *disk = &log->dir->disk;
    const clean_input_t *first = &job->inputs[g->first];
    char path[SL_LOG_PATH_BYTES_MAX];
    int rc = sl__segment_path_suffixed(log, first->base_offset, ".log", SL_CLEANER_CLEANED_SUFFIX,
                                       path, sizeof path);
    int fd = rc < 0 ? rc : disk->ops->open(disk, path, SL_DISK_OPEN_CREATE | SL_DISK_OPEN_TRUNCATE);
    if (fd < 0)
        return fd;
    g->out = sl__segment_wrap(first->base_offset, fd);
    if (g->out == NULL) {
        (void)disk->ops->close(disk, fd); /* empty file: recovery removes it */
        return -ENOMEM;
    }
    sl_log_segment_t *seg = g->out;
    for (size_t i = g->first; rc == 0 && i < g->first + g->count; i++) {
        reader_t r = {.disk = disk, .in = &job->inputs[i]};
        const uint8_t *p;
        sl_batch_info_t info;
        job->stats.bytes_read += job->inputs[i].size;
        while ((rc = reader_next(&r, &p, &info)) == 1) {
            r.pos += info.batch_bytes;
            if (job_cancelled(job)) {
                rc = SL_ECLOSED;
                break;
            }
            if ((rc = clean_batch(c, p, &info)) != 0)
                break;
            if (c->out.len >= CLEAN_WRITE_BUFFER_BYTES && (rc = flush_out(c, seg)) != 0)
                break;
        }
        sl_free(r.buf);
    }
    if (rc == 0)
        rc = flush_out(c, seg);
    if (rc == 0)
        rc = disk->ops->fsync(disk, fd);
    if (rc < 0)
        return rc;
    /* The segment keeps its place: it ends where the group's last input ended. */
    const clean_input_t *last = &job->inputs[g->first + g->count - 1];
    if (seg->size > 0)
        (void)sl__segment_index_add(seg, seg->next_offset - 1, 0, seg->max_timestamp,
                                    seg->offset_of_max_timestamp, true); /* memory: sparser */
    seg->next_offset = last->next_offset;
    seg->written_pos = seg->synced_pos = seg->size;
    return sl__segment_write_indexes_as(log, seg, SL_CLEANER_CLEANED_SUFFIX);
}

/* Kafka's groupSegmentsBySize: consecutive inputs below cleaned_to whose sizes add up to at most
 * segment.bytes and whose offsets span at most INT32_MAX (relative offsets are u32 in the index).
 */
static int plan_groups(sl_log_clean_job_t *job)
{
    size_t n = 0;
    while (n < job->input_count && job->inputs[n].base_offset < job->cleaned_to)
        n++;
    job->groups = sl_calloc(n ? n : 1, sizeof *job->groups);
    if (job->groups == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n;) {
        clean_group_t *g = &job->groups[job->group_count++];
        g->first = i;
        int64_t bytes = job->inputs[i].size;
        i++;
        while (i < n && bytes + job->inputs[i].size <= job->cfg.segment_bytes &&
               job->inputs[i].next_offset - 1 - job->inputs[g->first].base_offset <= INT32_MAX) {
            bytes += job->inputs[i].size;
            i++;
        }
        g->count = i - g->first;
    }
    return 0;
}

void sl_log_clean_run(sl_log_clean_job_t *job)
{
    SL_ASSERT(job != NULL);
    job->stats.first_dirty_offset = job->first_dirty_offset;
    const sl_clock_ops_t *clock = job->log->dir->clock;
    uint64_t started_ms = clock->monotonic_ms(clock->data);
    sl_offset_map_t map;
    cleaning_t c = {.job = job, .map = &map};
    sl_records_scratch_init(&c.scratch);
    sl_buf_init(&c.records, 0);
    sl_buf_init(&c.compressed, 0);
    sl_buf_init(&c.out, 0);
    sl_buf_init(&c.filter.keep, 0);
    int rc = sl__offset_map_init(&map, job->map_bytes);
    if (rc == 0)
        rc = build_map(job, &map, &c.scratch);
    if (rc == 0)
        rc = plan_groups(job);
    for (size_t i = 0; rc == 0 && i < job->group_count; i++)
        rc = clean_group(&c, &job->groups[i]);
    job->stats.cleaned_to_offset = job->cleaned_to;
    job->stats.run_ms = (int64_t)(clock->monotonic_ms(clock->data) - started_ms);
    job->rc = rc;
    sl__offset_map_deinit(&map);
    sl_buf_deinit(&c.scratch);
    sl_buf_deinit(&c.records);
    sl_buf_deinit(&c.compressed);
    sl_buf_deinit(&c.out);
    sl_buf_deinit(&c.filter.keep);
}

/* ---- swap (loop thread) ---------------------------------------------------------------------- */

static const char *const segment_exts[] = {".log", ".index", ".timeindex"};

static int rename_files(sl_log_t *log, int64_t base, const char *from_suffix, const char *to_suffix)
{
    sl_disk_t *disk = &log->dir->disk;
    /* The .log first: recovery keys a swap on it, so an index file never moves ahead of its log
     * (an index .swap without a log .swap belongs to the .log already renamed). */
    for (size_t k = 0; k < SL_ARRAY_LEN(segment_exts); k++) {
        char from[SL_LOG_PATH_BYTES_MAX], to[SL_LOG_PATH_BYTES_MAX];
        int rc =
            sl__segment_path_suffixed(log, base, segment_exts[k], from_suffix, from, sizeof from);
        if (rc == 0)
            rc = sl__segment_path_suffixed(log, base, segment_exts[k], to_suffix, to, sizeof to);
        if (rc == 0)
            rc = disk->ops->rename(disk, from, to);
        if (rc < 0 && !(rc == -ENOENT && k > 0)) /* an empty segment may lack an index file */
            return rc;
    }
    return 0;
}

static void discard_files(sl_log_clean_job_t *job)
{
    sl_log_t *log = job->log;
    for (size_t i = 0; i < job->group_count; i++) {
        for (size_t k = 0; k < SL_ARRAY_LEN(segment_exts); k++) {
            char p[SL_LOG_PATH_BYTES_MAX];
            if (sl__segment_path_suffixed(log, job->inputs[job->groups[i].first].base_offset,
                                          segment_exts[k], SL_CLEANER_CLEANED_SUFFIX, p,
                                          sizeof p) == 0)
                (void)log->dir->disk.ops->unlink(&log->dir->disk, p); /* recovery would too */
        }
    }
}

/* Old segment files of a group: the indexes of all, the .log of all but the first (whose name
 * the cleaned .log takes over by rename). */
static int unlink_old(sl_log_clean_job_t *job, const clean_group_t *g)
{
    sl_log_t *log = job->log;
    sl_disk_t *disk = &log->dir->disk;
    for (size_t i = g->first; i < g->first + g->count; i++) {
        for (size_t k = i == g->first ? 1 : 0; k < SL_ARRAY_LEN(segment_exts); k++) {
            char p[SL_LOG_PATH_BYTES_MAX];
            int rc =
                sl__segment_path(log, job->inputs[i].base_offset, segment_exts[k], p, sizeof p);
            if (rc == 0)
                rc = disk->ops->unlink(disk, p);
            if (rc < 0 && rc != -ENOENT)
                return rc;
        }
    }
    return 0;
}

static int swap_files(sl_log_clean_job_t *job)
{
    sl_log_t *log = job->log;
    sl_disk_t *disk = &log->dir->disk;
    /* Checkpoint first: segments below it may hold gaps, which recovery then accepts. If the
     * swap does not happen, those offsets only count as clean without being compacted. */
    int rc = sl__checkpoint_write(log, SL_CLEANER_CHECKPOINT_FILE, job->cleaned_to);
    for (size_t i = 0; rc == 0 && i < job->group_count; i++)
        rc = rename_files(log, job->inputs[job->groups[i].first].base_offset,
                          SL_CLEANER_CLEANED_SUFFIX, SL_CLEANER_SWAP_SUFFIX);
    if (rc == 0)
        rc = disk->ops->fsync_dir(disk, log->path); /* commit: recovery finishes from here */
    for (size_t i = 0; rc == 0 && i < job->group_count; i++)
        rc = unlink_old(job, &job->groups[i]);
    if (rc == 0)
        rc = disk->ops->fsync_dir(disk, log->path);
    for (size_t i = 0; rc == 0 && i < job->group_count; i++)
        rc = rename_files(log, job->inputs[job->groups[i].first].base_offset,
                          SL_CLEANER_SWAP_SUFFIX, "");
    if (rc == 0)
        rc = disk->ops->fsync_dir(disk, log->path);
    return rc;
}

/* Replaces the groups' input segments with their cleaned segments in log->segs. */
static void swap_memory(sl_log_clean_job_t *job)
{
    sl_log_t *log = job->log;
    size_t replaced = 0;
    for (size_t i = 0; i < job->group_count; i++)
        replaced += job->groups[i].count;
    for (size_t i = 0; i < replaced; i++) {
        sl_log_segment_t *old = log->segs[i];
        SL_ASSERT(old->base_offset == job->inputs[i].base_offset);
        old->ops_in_flight--;
        sl__segment_free(log->dir, old);
    }
    for (size_t i = 0; i < job->group_count; i++) {
        sl_log_segment_t *seg = job->groups[i].out;
        seg->created_ms = log->dir->clock->monotonic_ms(log->dir->clock->data);
        log->segs[i] = seg;
        job->groups[i].out = NULL;
    }
    memmove(log->segs + job->group_count, log->segs + replaced,
            (log->seg_count - replaced) * sizeof *log->segs);
    log->seg_count -= replaced - job->group_count;
}

int sl_log_clean_end(sl_log_clean_job_t *job, sl_log_clean_stats_t *stats)
{
    SL_ASSERT(job != NULL);
    sl_log_t *log = job->log;
    sl_log_dir_t *dir = log->dir;
    bool discard = job->rc != 0 || job_cancelled(job) || dir->offline || dir->closing;
    size_t replaced = 0;
    for (size_t i = 0; i < job->group_count; i++)
        replaced += job->groups[i].count;
    if (!discard) {
        for (size_t i = 0; i < replaced; i++)
            if (log->segs[i]->ops_in_flight > 1)
                return -EAGAIN; /* a reader is inside an old segment: try again soon */
    }
    int rc = 0;
    if (discard) {
        if (job->rc != 0 && job->rc != SL_ECLOSED) {
            /* Kafka marks the partition uncleanable rather than retrying the same bytes. */
            log->uncleanable = true;
            SL_LOG(SL_LOG_ERROR, "log",
                   "cleaning failed, the log stays uncompacted until restart topic=%s "
                   "partition=%" PRId32 " err=%s",
                   log->topic, log->partition, sl_strerror(job->rc));
        }
        discard_files(job);
    } else if ((rc = swap_files(job)) < 0) {
        sl__dir_go_offline(dir, rc, "cleaner swap", log);
    } else {
        swap_memory(job);
        log->cleaner_checkpoint = job->cleaned_to;
        log->clean_due_ms = job->next_horizon_ms;
        job->stats.swapped = true;
        job->stats.segments_in = (int32_t)replaced;
        job->stats.segments_out = (int32_t)job->group_count;
        rc = sl__producers_trim_snapshots_below(log, job->cleaned_to);
        if (rc < 0)
            sl__dir_go_offline(dir, rc, "producer snapshot trim", log);
        SL_LOG(SL_LOG_INFO, "log",
               "cleaned topic=%s partition=%" PRId32 " segments=%zu->%zu bytes=%" PRId64
               "->%" PRId64 " records_removed=%" PRId64 " cleaned_to=%" PRId64 " ms=%" PRId64,
               log->topic, log->partition, replaced, job->group_count, job->stats.bytes_read,
               job->stats.bytes_written, job->stats.records_removed, job->cleaned_to,
               job->stats.run_ms);
    }
    /* Inputs not replaced stay pinned until here; after a swap they follow the new segments. */
    size_t at = job->stats.swapped ? job->group_count : 0;
    for (size_t i = job->stats.swapped ? replaced : 0; i < job->input_count; i++, at++) {
        SL_ASSERT(log->segs[at]->base_offset == job->inputs[i].base_offset);
        log->segs[at]->ops_in_flight--;
    }
    if (stats != NULL)
        *stats = job->stats;
    log->clean_job = NULL;
    log->ops_in_flight--;
    job_free(job);
    sl__dir_op_done(dir); /* last: a closing dir may free the log now */
    return rc;
}

/* ---- recovery of an interrupted swap (at open, before the segments are listed) -----------------
 */

typedef struct {
    sl_log_t *log;
    int64_t *log_bases, *swap_bases; /* <base>.log and <base>.log.swap */
    size_t log_count, swap_count, log_cap, swap_cap;
    int64_t *index_swap_bases; /* <base>.index.swap or <base>.timeindex.swap */
    size_t index_swap_count, index_swap_cap;
} leftovers_t;

static int push_base(int64_t **arr, size_t *count, size_t *cap, int64_t v)
{
    if (*count == SL_LOG_SEGMENTS_MAX)
        return SL_ELIMIT;
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        int64_t *p = sl_realloc(*arr, ncap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        *arr = p;
        *cap = ncap;
    }
    (*arr)[(*count)++] = v;
    return 0;
}

static int collect_leftover(const char *name, void *data)
{
    leftovers_t *l = data;
    sl_disk_t *disk = &l->log->dir->disk;
    size_t len = strlen(name), cl = strlen(SL_CLEANER_CLEANED_SUFFIX);
    int64_t base;
    if (len > cl && strcmp(name + len - cl, SL_CLEANER_CLEANED_SUFFIX) == 0) {
        char p[SL_LOG_PATH_BYTES_MAX];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", l->log->path, name) < sizeof p)
            (void)disk->ops->unlink(disk, p); /* an unfinished cleaning: the old files stand */
        return 0;
    }
    if (sl__segment_name_parse(name, ".log", SL_CLEANER_SWAP_SUFFIX, &base))
        return push_base(&l->swap_bases, &l->swap_count, &l->swap_cap, base);
    if (sl__segment_name_parse(name, ".log", "", &base))
        return push_base(&l->log_bases, &l->log_count, &l->log_cap, base);
    if (sl__segment_name_parse(name, ".index", SL_CLEANER_SWAP_SUFFIX, &base) ||
        sl__segment_name_parse(name, ".timeindex", SL_CLEANER_SWAP_SUFFIX, &base))
        return push_base(&l->index_swap_bases, &l->index_swap_count, &l->index_swap_cap, base);
    return 0;
}

/* The offset after the last batch of the file at path (its base + 1 when it holds none). */
static int64_t swap_next_offset(sl_log_t *log, const char *path, int64_t base)
{
    sl_disk_t *disk = &log->dir->disk;
    int fd = disk->ops->open(disk, path, SL_DISK_OPEN_READONLY);
    if (fd < 0)
        return fd;
    int64_t size = disk->ops->file_size(disk, fd);
    int64_t next = size < 0 ? size : base + 1;
    clean_input_t in = {.base_offset = base, .size = size, .fd = fd};
    reader_t r = {.disk = disk, .in = &in};
    const uint8_t *p;
    sl_batch_info_t info;
    int rc;
    while (size >= 0 && (rc = reader_next(&r, &p, &info)) == 1) {
        next = info.last_offset + 1;
        r.pos += info.batch_bytes;
    }
    sl_free(r.buf);
    (void)disk->ops->close(disk, fd); /* read only */
    return next;
}

static int cmp_base(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Kafka's LogLoader for swap files: the swap replaces every old segment whose base lies in
 * [base, the swap's next offset); its index files follow it. A group's old segment past that
 * range (the cleaned group lost its last records) stays, which keeps every offset at most once. */
static int finish_swap(sl_log_t *log, const leftovers_t *l, int64_t base)
{
    sl_disk_t *disk = &log->dir->disk;
    char swap[SL_LOG_PATH_BYTES_MAX], p[SL_LOG_PATH_BYTES_MAX];
    int rc =
        sl__segment_path_suffixed(log, base, ".log", SL_CLEANER_SWAP_SUFFIX, swap, sizeof swap);
    int64_t next = rc < 0 ? rc : swap_next_offset(log, swap, base);
    if (next < 0)
        return (int)next;
    for (size_t i = 0; i < l->log_count; i++) {
        if (l->log_bases[i] < base || l->log_bases[i] >= next)
            continue;
        for (size_t k = 0; k < SL_ARRAY_LEN(segment_exts); k++) {
            if (l->log_bases[i] == base && k == 0)
                continue; /* replaced by the rename below */
            rc = sl__segment_path(log, l->log_bases[i], segment_exts[k], p, sizeof p);
            if (rc == 0)
                rc = disk->ops->unlink(disk, p);
            if (rc < 0 && rc != -ENOENT)
                return rc;
        }
    }
    rc = disk->ops->fsync_dir(disk, log->path);
    if (rc == 0)
        rc = rename_files(log, base, SL_CLEANER_SWAP_SUFFIX, "");
    SL_LOG(SL_LOG_WARN, "log", "finished an interrupted cleaner swap dir=%s base_offset=%" PRId64,
           log->path, base);
    return rc;
}

/* An .index.swap or .timeindex.swap whose .log already has its final name: the old index files
 * were unlinked before that rename, so these are the segment's. */
static int finish_index_swap(sl_log_t *log, int64_t base)
{
    sl_disk_t *disk = &log->dir->disk;
    static const char *const exts[] = {".index", ".timeindex"};
    for (size_t k = 0; k < SL_ARRAY_LEN(exts); k++) {
        char from[SL_LOG_PATH_BYTES_MAX], to[SL_LOG_PATH_BYTES_MAX];
        int rc = sl__segment_path_suffixed(log, base, exts[k], SL_CLEANER_SWAP_SUFFIX, from,
                                           sizeof from);
        if (rc == 0)
            rc = sl__segment_path(log, base, exts[k], to, sizeof to);
        if (rc == 0)
            rc = disk->ops->rename(disk, from, to);
        if (rc < 0 && rc != -ENOENT) /* finish_swap may have moved it already */
            return rc;
    }
    return 0;
}

int sl__cleaner_recover_files(sl_log_t *log)
{
    log->cleaner_checkpoint = sl__checkpoint_read(log, SL_CLEANER_CHECKPOINT_FILE);
    leftovers_t l = {.log = log};
    sl_disk_t *disk = &log->dir->disk;
    int rc = disk->ops->list_dir(disk, log->path, collect_leftover, &l);
    if (rc == 0 && l.swap_count > 1)
        qsort(l.swap_bases, l.swap_count, sizeof *l.swap_bases, cmp_base);
    for (size_t i = 0; rc == 0 && i < l.swap_count; i++)
        rc = finish_swap(log, &l, l.swap_bases[i]);
    for (size_t i = 0; rc == 0 && i < l.index_swap_count; i++)
        rc = finish_index_swap(log, l.index_swap_bases[i]);
    if (rc == 0 && (l.swap_count > 0 || l.index_swap_count > 0))
        rc = disk->ops->fsync_dir(disk, log->path);
    sl_free(l.log_bases);
    sl_free(l.swap_bases);
    sl_free(l.index_swap_bases);
    return rc;
}
