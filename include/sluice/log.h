/* log: one partition's segmented, append-only log (Kafka's on-disk layout, docs/formats.md) and the
 * log dir it lives in (group commit, clean-shutdown marker, offline state).
 * Invariants: offsets are assigned densely in append order; appends complete in offset order per
 * partition; readers never see past the high watermark; after any write or fsync error the whole
 * dir is offline for good (no retry). All calls are on the loop thread; disk I/O goes through the
 * sl_disk_t seam only, time through sl_clock_ops_t only. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <errno.h>

#include "sluice/core.h"
#include "sluice/io.h"
#include "sluice/metrics.h"
#include "sluice/record_batch.h"

/* Returned synchronously by sl_log_read when the offset is outside [log start, high watermark]
 * (Kafka's OFFSET_OUT_OF_RANGE). */
#define SL_LOG_EOUTOFRANGE (-ERANGE)

/* Kafka's clean-shutdown marker, one per log dir. */
#define SL_LOG_CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"

typedef struct sl_log_config {
    int64_t segment_bytes;        /* segment.bytes / log.segment.bytes */
    int64_t segment_ms;           /* segment.ms / log.roll.ms */
    int64_t retention_ms;         /* -1 = unlimited */
    int64_t retention_bytes;      /* -1 = unlimited */
    int32_t index_interval_bytes; /* index.interval.bytes (4096) */
    int32_t segment_index_bytes;  /* segment.index.bytes (10 MiB): a segment rolls when its index is
                                     full */
    bool log_append_time;         /* message.timestamp.type == LogAppendTime */
    bool sync_on_ack;             /* storage.sync.policy: ack (true, default) | interval */
    int64_t flush_interval_messages, flush_interval_ms; /* used when !sync_on_ack */
    /* cleanup.policy: compact runs the log cleaner (cleaner.c); retention by time and size applies
     * unless the policy is compact alone (compact_delete: "compact,delete"). */
    bool compact, compact_delete;
    int64_t delete_retention_ms;   /* delete.retention.ms: tombstones live this long once cleaned */
    int64_t min_compaction_lag_ms; /* min.compaction.lag.ms */
    int64_t max_compaction_lag_ms; /* max.compaction.lag.ms (INT64_MAX: none) */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio */
} sl_log_config_t;

/* Kafka's defaults (segment.bytes 1 GiB, segment.ms 7 days, retention 7 days, ...). */
void sl_log_config_default(sl_log_config_t *cfg);

typedef struct sl_log_dir sl_log_dir_t; /* one log dir */
typedef struct sl_log sl_log_t;         /* one partition */
typedef struct sl_log_segment sl_log_segment_t;

/* Opens (and keeps) the log dir at path, which must exist. Removes the clean-shutdown marker,
 * remembering whether it was there, and finishes deleting leftover "*-delete" partition dirs.
 * Borrows clock (must outlive the dir); takes a copy of disk. */
int sl_log_dir_open(const char *path, sl_disk_t disk, const sl_clock_ops_t *clock,
                    sl_log_dir_t **out);
bool sl_log_dir_was_clean(const sl_log_dir_t *dir);
bool sl_log_dir_is_offline(const sl_log_dir_t *dir);
/* The dir's group-commit fdatasync latencies (borrowed; lives as long as dir). */
const sl_histogram_t *sl_log_dir_fsync_latency(const sl_log_dir_t *dir);
/* Stops new appends (they fail SL_ECLOSED), waits for every op in flight, closes every log still
 * open (sync), writes the clean-shutdown marker unless the dir is offline, then calls done (never
 * inside this call) and frees the dir. */
void sl_log_dir_close(sl_log_dir_t *dir, void (*done)(sl_log_dir_t *, void *), void *data);
/* For storage.sync.policy=interval: starts a group commit when flush_interval_ms has passed for a
 * log with unsynced appends. The broker calls it from a timer; harmless otherwise. */
void sl_log_dir_flush_tick(sl_log_dir_t *dir);

/* Opens <dir>/<topic>-<partition>/, creating it (with partition.metadata) when new, and recovers
 * it (docs/formats.md). topic_id may be NULL (no partition.metadata written or checked). Errors:
 * SL_EEXISTS when partition.metadata names another topic id, SL_ECONFIG for a bad config,
 * SL_ECLOSED when the dir is closing, -EIO when it is offline, -errno from the disk. */
int sl_log_open(sl_log_dir_t *dir, const char *topic, int32_t partition, const sl_uuid_t *topic_id,
                const sl_log_config_t *cfg, sl_log_t **out);
void sl_log_set_config(sl_log_t *log, const sl_log_config_t *cfg);
/* Synchronous: fsyncs the segments, writes the indexes, closes the fds, frees. -EBUSY (and nothing
 * done) while appends, reads or a group commit are in flight for this log. */
int sl_log_close(sl_log_t *log);
/* Closes the log and removes its directory (renamed to <topic>-<partition>.<id>-delete first). */
int sl_log_delete(sl_log_t *log);

int64_t sl_log_start_offset(const sl_log_t *log);
int64_t sl_log_end_offset(const sl_log_t *log);
int64_t sl_log_high_watermark(const sl_log_t *log);
/* Bytes in the log's segment files and how many segments it has (Kafka's Log Size and
 * NumLogSegments): O(segments), for /metrics. */
int64_t sl_log_size_bytes(const sl_log_t *log);
size_t sl_log_segment_count(const sl_log_t *log);

/* ---- append ---- */
typedef struct sl_log_append sl_log_append_t;
typedef void (*sl_log_append_cb)(sl_log_append_t *req, int status, void *data);
/* Caller-owned; all fields are private. */
struct sl_log_append {
    sl_disk_op_t priv_op;
    sl_log_append_t *priv_next;
    sl_log_t *priv_log;
    sl_log_segment_t *priv_segment;
    int64_t priv_end_offset; /* last offset + 1 */
    int64_t priv_pos;        /* byte position in the segment */
    uint64_t priv_seq;       /* the dir's write sequence number */
    size_t priv_len;
    int priv_status;
    bool priv_wait_for_sync, priv_write_done, priv_counted;
    sl_log_append_cb priv_cb;
    void *priv_data;
};
/* See docs in src/log/README.md. Returns 0 (cb will run), SL_EMALFORMED for a batch whose header
 * does not add up, -EIO when the dir is offline, SL_ECLOSED when it is closing, -errno when a
 * roll fails. batch is borrowed and patched in place; it must stay valid until cb runs.
 * base_offset_out and append_time_out (-1 unless LogAppendTime) may be NULL. */
int sl_log_append(sl_log_t *log, sl_log_append_t *req, uint8_t *batch, size_t len,
                  int32_t leader_epoch, bool wait_for_sync, sl_log_append_cb cb, void *data,
                  int64_t *base_offset_out, int64_t *append_time_out);

/* ---- reads (Fetch) and timestamp lookups (ListOffsets) ---- */
typedef struct sl_log_read sl_log_read_t;
typedef struct sl_log_lookup sl_log_lookup_t;
/* bytes: returns owned (sl_free it), NULL when len is 0, or NULL with len > 0 for a file range
 * (sl_log_read_file only): the records are then len bytes at req->file_pos of req->file_fd. */
typedef void (*sl_log_read_cb)(sl_log_read_t *req, int status, uint8_t *bytes, size_t len,
                               void *data);
typedef void (*sl_log_lookup_cb)(sl_log_lookup_t *req, int status, int64_t offset,
                                 int64_t timestamp, void *data);

/* The batch-walking engine both share; private. */
typedef struct {
    sl_disk_op_t op;
    sl_log_t *log;
    sl_log_segment_t *segment;
    uint8_t *buf;
    size_t buf_len;       /* bytes valid in buf */
    size_t read_len;      /* bytes the read in flight asked for */
    int64_t buf_pos;      /* segment position of buf[0] */
    int64_t scan_pos;     /* next batch header to look at */
    int64_t limit_pos;    /* visible end of the segment (written or synced bytes) */
    int64_t limit_offset; /* batches at or past it are not visible (high watermark) */
    int64_t start_pos;    /* found batch, -1 until found */
    int64_t target;       /* offset (read) or timestamp (lookup) */
    size_t max_bytes;
    int mode;
    int status; /* result carried by an immediate completion */
    int64_t result_offset, result_timestamp;
    bool min_one_batch, final_read;
    bool short_read; /* the last read returned less than asked: the file shrank (a truncation) */
    bool file_ok;    /* a read may end as a file range (sl_log_read_file) */
} sl__log_scan_t;

struct sl_log_read {
    sl__log_scan_t priv_scan;
    sl_log_read_cb priv_cb;
    void *priv_data;
    /* A file range result: the segment's descriptor (borrowed: valid only inside the callback,
     * dup it to keep it; the segment may be deleted right after) and the records' position. */
    int file_fd;
    int64_t file_pos;
};
struct sl_log_lookup {
    sl__log_scan_t priv_scan;
    sl_log_lookup_cb priv_cb;
    void *priv_data;
};

/* Whole batches from the one containing offset, up to max_bytes (at least one when
 * min_one_batch), never past the high watermark, from one segment. offset == high watermark gives
 * an empty result (through cb). SL_LOG_EOUTOFRANGE when offset < start or > high watermark. */
int sl_log_read(sl_log_t *log, sl_log_read_t *req, int64_t offset, size_t max_bytes,
                bool min_one_batch, sl_log_read_cb cb, void *data);
/* As sl_log_read, but what the batch walk has not already read into memory comes back as a file
 * range (for sendfile) instead of being read: the walk reads only the window around the index
 * position. The range ends on a batch boundary (the visible end, an offset index position, or a
 * batch seen in the window), so it may fall short of max_bytes by up to log.index.interval.bytes.
 */
int sl_log_read_file(sl_log_t *log, sl_log_read_t *req, int64_t offset, size_t max_bytes,
                     bool min_one_batch, sl_log_read_cb cb, void *data);
/* As Kafka: the offset and timestamp of the first visible record whose timestamp >= timestamp
 * (the batch is found by its header, then its records are read, decompressed when needed; in a
 * LogAppendTime batch every record has the batch's MaxTimestamp); offset and timestamp -1 when
 * there is none. cb gets SL_ECORRUPT for unreadable batches. A batch too large to decompress
 * (SL_RECORDS_DECOMPRESSED_BYTES_MAX) answers with its base offset and MaxTimestamp. */
int sl_log_offset_for_timestamp(sl_log_t *log, sl_log_lookup_t *req, int64_t timestamp,
                                sl_log_lookup_cb cb, void *data);
/* ListOffsets -3 as Kafka answers it: the offset of the first record holding the largest
 * timestamp of the visible log, and that timestamp; -1, -1 when there is none. Async like the
 * lookup above (it reads and decompresses that one batch). */
int sl_log_offset_for_max_timestamp(sl_log_t *log, sl_log_lookup_t *req, sl_log_lookup_cb cb,
                                    void *data);
/* The largest MaxTimestamp appended and the base offset of its batch (batch granularity, no
 * I/O); -1, -1 when empty. sl_log_offset_for_max_timestamp gives the exact record. */
void sl_log_max_timestamp(const sl_log_t *log, int64_t *timestamp, int64_t *offset);

/* Deletes whole non-active segments past retention_ms (by their largest timestamp) or beyond
 * retention_bytes, oldest first; moves the log start offset. Returns how many were deleted (or
 * -errno when the disk failed). Segments with I/O in flight are kept for a later pass. */
int sl_log_apply_retention(sl_log_t *log, int64_t now_ms);

/* Kafka's DeleteRecords: moves the log start offset up to offset (a smaller one changes nothing)
 * and records it durably in the partition's log-start-offset-checkpoint, so it survives restarts;
 * reads below it then fail SL_LOG_EOUTOFRANGE. Segments wholly below it are deleted now, or by a
 * later retention pass when I/O is in flight on them. Returns 0; SL_LOG_EOUTOFRANGE when offset
 * is negative or beyond the high watermark; -EIO offline; SL_ECLOSED closing; -errno from the disk
 * (the dir then goes offline). */
int sl_log_delete_records(sl_log_t *log, int64_t offset);

/* ---- idempotent producers (Kafka's ProducerStateManager; src/log/README.md has the rules) ---- */
typedef enum {
    SL_PRODUCER_OK =
        0, /* append it (a new producer, the next sequence, or a new epoch at sequence 0) */
    SL_PRODUCER_DUPLICATE,     /* one of the last 5 batches again: not appended; *dup_* hold the
                                  original */
    SL_PRODUCER_OUT_OF_ORDER,  /* OUT_OF_ORDER_SEQUENCE_NUMBER (45) */
    SL_PRODUCER_INVALID_EPOCH, /* INVALID_PRODUCER_EPOCH (47): an epoch older than the one seen */
    SL_PRODUCER_UNKNOWN,       /* UNKNOWN_PRODUCER_ID (59): never returned; Kafka 3.x/4.0 accept a
                                  producer without state at any sequence (KIP-360) */
} sl_producer_verdict_t;

/* Checks a batch (its parsed v2 header, include/sluice/record_batch.h) from an idempotent producer
 * (producer_id >= 0) against the partition's state, without changing it. For a duplicate,
 * *dup_base_offset is the original's base offset and *dup_log_append_time its MaxTimestamp (Kafka
 * answers a duplicate with that timestamp as log_append_time, whatever the timestamp type); both
 * may be NULL. A duplicate's original is covered once the high watermark is above its base offset
 * (the high watermark moves by whole batches). */
sl_producer_verdict_t sl_log_producer_check(const sl_log_t *log, const sl_record_batch_t *batch,
                                            int64_t *dup_base_offset, int64_t *dup_log_append_time);

/* sl_log_append records producer state itself for batches with producer_id >= 0 (control batches
 * aside), at submission (so a retry that arrives while the original is still being written is
 * already a duplicate); it records without checking (the broker checks first). */
typedef struct sl_producer_info {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t last_sequence; /* -1 when no batch of the current epoch is kept */
    int64_t last_timestamp;
    int64_t current_txn_start_offset; /* -1: transactions are not there yet */
} sl_producer_info_t;

/* For DescribeProducers: fills up to max entries (in no particular order), returns how many active
 * producers there are. */
size_t sl_log_producers(const sl_log_t *log, sl_producer_info_t *out, size_t max);

/* Drops producers whose last batch's MaxTimestamp is expiration_ms or more before now_ms
 * (producer.id.expiration.ms, Kafka's rule); the broker calls it periodically. Their next batch is
 * then accepted at any sequence, as from a new producer. */
void sl_log_producers_expire(sl_log_t *log, int64_t now_ms, int64_t expiration_ms);

/* ---- log cleaner (cleaner.c; src/log/README.md "Log cleaner") ----
 * Compaction in three steps so the slow middle one can run on a worker thread: begin (loop thread)
 * picks the segments and pins them, run (any thread, touches no shared state: it reads the pinned
 * segments and writes <base>.log.cleaned files) builds the cleaned segments, end (loop thread)
 * swaps them in crash-safely (.cleaned -> .swap -> final name) and unpins. While a job is out, the
 * log refuses close/delete (-EBUSY) and retention skips the pinned segments. */
typedef struct sl_log_clean_job sl_log_clean_job_t;

typedef struct {
    size_t dedupe_buffer_bytes; /* log.cleaner.dedupe.buffer.size: the offset map's memory */
} sl_log_cleaner_config_t;

typedef struct {
    int64_t bytes_read, bytes_written; /* of the segments rewritten */
    int64_t records_read, records_removed, batches_emptied;
    int64_t first_dirty_offset, cleaned_to_offset; /* the dirty range this job took in */
    int32_t segments_in, segments_out;
    int64_t run_ms; /* the heavy part's wall time (map and rewrite) */
    bool swapped;   /* false when the job was cancelled, failed or found the log busy */
} sl_log_clean_stats_t;

/* How urgently the log wants cleaning, for picking the filthiest log: its dirty ratio (bytes of
 * cleanable segments not yet cleaned / all cleanable bytes), raised to 2 when max.compaction.lag.ms
 * or a tombstone's delete horizon is due; < 0 when it cannot be cleaned now (not compacted, nothing
 * cleanable, a job is out, the dir is offline or closing). */
double sl_log_clean_priority(const sl_log_t *log, int64_t now_ms);
/* 0 and *out (owned until sl_log_clean_end) when something is to be cleaned; SL_ENOTFOUND when
 * the log needs nothing (priority below min.cleanable.dirty.ratio); -ENOMEM. now_ms: wall time. */
int sl_log_clean_begin(sl_log_t *log, const sl_log_cleaner_config_t *cc, int64_t now_ms,
                       sl_log_clean_job_t **out);
/* The heavy part, on any thread: builds the offset map and writes the cleaned segments. */
void sl_log_clean_run(sl_log_clean_job_t *job);
/* From any thread: makes run stop soon (end then discards the partial work). */
void sl_log_clean_cancel(sl_log_clean_job_t *job);
/* Loop thread, after run returned: swaps the cleaned segments in (or discards them), unpins, frees
 * the job. Returns 0 or the error that took the dir offline; stats may be NULL. */
int sl_log_clean_end(sl_log_clean_job_t *job, sl_log_clean_stats_t *stats);

/* ---- replicated logs (a Raft group's log: src/replication/raft_log.c; src/log/README.md
 * "Replicated logs") ---- */

/* Makes a just-opened log (before any append or read) replicated: its owner decides durability
 * and visibility. Appends never trigger a sync by themselves (sync_on_ack and flush.interval are
 * ignored), sl_log_flush makes them durable, and the high watermark is what the owner sets with
 * sl_log_set_high_watermark (it starts at the log start offset, so nothing recovered is visible
 * until the owner says it is committed). After an unclean shutdown it fsyncs every segment first:
 * bytes a crashed process left in the page cache were never reported durable, and must be before
 * the owner counts them. Returns 0 or -errno (the dir then goes offline). */
int sl_log_make_replicated(sl_log_t *log);
bool sl_log_is_replicated(const sl_log_t *log);
/* Replicated logs only: moves the high watermark up to hw (capped at the log end; a lower value
 * changes nothing); readers and the hw listener see it at once. */
void sl_log_set_high_watermark(sl_log_t *log, int64_t hw);
/* End of the appends whose writes completed (contiguously) and of what an fdatasync covers. */
int64_t sl_log_written_offset(const sl_log_t *log);
int64_t sl_log_synced_offset(const sl_log_t *log);

typedef struct sl_log_flush sl_log_flush_t;
/* synced_offset: the log's durable end when the flush completed (>= the log end at the call,
 * unless a truncation cut below it); status < 0 when the dir went offline. */
typedef void (*sl_log_flush_cb)(sl_log_flush_t *req, int status, int64_t synced_offset, void *data);
/* Caller-owned; all fields are private. */
struct sl_log_flush {
    sl_disk_op_t priv_op; /* completes a flush with nothing to wait for through the disk */
    sl_log_flush_t *priv_next;
    sl_log_t *priv_log;
    int64_t priv_target;
    int priv_status;
    sl_log_flush_cb priv_cb;
    void *priv_data;
};
/* Makes everything appended so far durable through the dir's group commit (one fdatasync per
 * segment with unsynced bytes, shared with every log of the dir that needs one); cb runs on the
 * loop thread, never inside this call, in the order flushes were asked for; with status < 0 (the
 * dir's error, or -EIO) when the dir is or goes offline. Returns 0 (cb will run), SL_ECLOSED when
 * the dir is closing, -errno when the disk refused the op. */
int sl_log_flush(sl_log_t *log, sl_log_flush_t *req, sl_log_flush_cb cb, void *data);

/* As sl_log_read, but up to end_offset instead of the high watermark (a Raft leader answering a
 * replica's Fetch reads past the high watermark): never past end_offset nor past what is written.
 * SL_LOG_EOUTOFRANGE when offset < start or > min(end_offset, log end); an offset at or past the
 * written end gives an empty result (through cb). */
int sl_log_read_upto(sl_log_t *log, sl_log_read_t *req, int64_t offset, int64_t end_offset,
                     size_t max_bytes, bool min_one_batch, sl_log_read_cb cb, void *data);

/* Removes every batch at or above offset, durably before it returns (Raft's truncation on
 * DivergingEpoch): later segments are deleted, the segment holding offset is cut and fsynced, its
 * indexes trimmed (its index files go: it is the active segment again), the log left durable to
 * its new end, leader epochs starting at or above offset dropped from
 * leader-epoch-checkpoint, producer state rebuilt from the snapshots and batches that remain.
 * offset must be a batch boundary. Synchronous reads and writes: meant for the rare divergence.
 * Returns 0; SL_LOG_EOUTOFRANGE when offset < high watermark, < log start or > log end (nothing
 * done); -EINVAL when offset falls inside a batch; -EBUSY while writes, appends waiting for sync,
 * a cleaner job or I/O on a segment to delete are in flight (nothing done); -EIO offline; other
 * -errno from the disk (the dir then goes offline). */
int sl_log_truncate(sl_log_t *log, int64_t offset);

/* The leader-epoch-checkpoint entries: each epoch's first offset, ascending. */
typedef struct {
    int32_t epoch;
    int64_t start_offset;
} sl_log_epoch_t;
/* Borrowed until the next append, truncation or retention on the log. */
const sl_log_epoch_t *sl_log_leader_epochs(const sl_log_t *log, size_t *count);

/* The clock the dir was opened with (borrowed). */
const sl_clock_ops_t *sl_log_dir_clock(const sl_log_dir_t *dir);
/* Replaces path (anywhere, typically inside a partition dir) with bytes durably through the dir's
 * disk: path.tmp written and fsynced, renamed over path, parent dir fsynced. */
int sl_log_dir_replace_file(sl_log_dir_t *dir, const char *path, const void *bytes, size_t len);
/* Reads a whole small file (at most 256 MiB) into an owned, NUL-terminated buffer (sl_free);
 * -ENOENT when missing. */
int sl_log_dir_read_file(sl_log_dir_t *dir, const char *path, uint8_t **out, size_t *len);

/* cb runs on the loop thread whenever the high watermark advances. */
void sl_log_set_hw_listener(sl_log_t *log, void (*cb)(sl_log_t *, void *), void *data);

/* The dir and partition a log belongs to (for the broker's logging). */
int32_t sl_log_partition(const sl_log_t *log);
const char *sl_log_topic(const sl_log_t *log);

#endif
