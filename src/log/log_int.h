/* log_int: the log store's internal structs, batch header byte table and helpers shared by the
 * files of src/log/. Invariants kept here: segments are sorted by base offset and contiguous
 * (segment i ends where i+1 begins); positions only grow within a segment except at recovery. */
#ifndef SLUICE_LOG_INT_H
#define SLUICE_LOG_INT_H

#include "sluice/log.h"

/* ---- bounds (candidates for limits.h) ---- */
#define SL_LOG_SEGMENTS_MAX 65536 /* segments per partition */
#define SL_LOG_EPOCHS_MAX 4096    /* leader-epoch-checkpoint entries kept */
#define SL_LOG_PATH_BYTES_MAX 4096
#define SL_LOG_SCAN_CHUNK_BYTES (64 * 1024) /* one read while looking for a batch */
#define SL_LOG_RECOVERY_CHUNK_BYTES (1024 * 1024)
#define SL_LOG_BATCH_BYTES_MAX (64 * 1024 * 1024) /* larger length fields are corruption */
#define SL_LOG_PRODUCERS_MAX 65536 /* producer ids kept per partition; the oldest goes beyond */
#define SL_LOG_PRODUCER_BATCHES 5  /* Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN */
#define SL_LOG_SNAPSHOTS_MAX (2 * SL_LOG_SEGMENTS_MAX) /* <offset>.snapshot files per partition */

/* ---- record batch v2 header (CLIENTS.md 4.3) ---- */
#define SL_BATCH_OFF_BASE_OFFSET 0
#define SL_BATCH_OFF_LENGTH 8
#define SL_BATCH_OFF_LEADER_EPOCH 12
#define SL_BATCH_OFF_MAGIC 16
#define SL_BATCH_OFF_CRC 17
#define SL_BATCH_OFF_ATTRIBUTES 21
#define SL_BATCH_OFF_LAST_OFFSET_DELTA 23
#define SL_BATCH_OFF_BASE_TIMESTAMP 27
#define SL_BATCH_OFF_MAX_TIMESTAMP 35
#define SL_BATCH_OFF_PRODUCER_ID 43
#define SL_BATCH_OFF_PRODUCER_EPOCH 51
#define SL_BATCH_OFF_BASE_SEQUENCE 53
#define SL_BATCH_OFF_RECORD_COUNT 57
#define SL_BATCH_HEADER_BYTES 61
#define SL_BATCH_LOG_OVERHEAD 12 /* BaseOffset + Length precede what Length counts */
#define SL_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define SL_BATCH_ATTR_CONTROL 0x20
_Static_assert(SL_BATCH_OFF_RECORD_COUNT + 4 == SL_BATCH_HEADER_BYTES, "61-byte v2 header");

/* ---- index entries on disk (Kafka OffsetIndex / TimeIndex) ---- */
#define SL_OFFSET_INDEX_ENTRY_BYTES 8 /* u32 relative offset + u32 position, big-endian */
#define SL_TIME_INDEX_ENTRY_BYTES 12  /* i64 timestamp + u32 relative offset, big-endian */

typedef struct {
    uint32_t relative_offset;
    uint32_t position;
} sl_offset_index_entry_t;
typedef struct {
    int64_t timestamp;
    uint32_t relative_offset;
} sl_time_index_entry_t;
_Static_assert(sizeof(sl_offset_index_entry_t) == SL_OFFSET_INDEX_ENTRY_BYTES,
               "u32 relative offset + u32 position");

static inline uint32_t sl__be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline int64_t sl__be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)sl__be32(p) << 32 | sl__be32(p + 4));
}
static inline void sl__put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void sl__put_be64(uint8_t *p, int64_t v)
{
    sl__put_be32(p, (uint32_t)((uint64_t)v >> 32));
    sl__put_be32(p + 4, (uint32_t)v);
}

/* What a batch header says, once checked. */
typedef struct {
    int64_t base_offset;
    int64_t last_offset;
    int64_t max_timestamp;
    int64_t batch_bytes; /* whole batch including the 12-byte log overhead */
    int32_t leader_epoch;
} sl_batch_info_t;

/* Checks the header at p (avail bytes there): 0 and *info, SL_EINCOMPLETE when more bytes are
 * needed to decide (with crc, the whole batch), SL_ECORRUPT when it cannot be a v2 batch. */
int sl__batch_check(const uint8_t *p, size_t avail, bool check_crc, sl_batch_info_t *info);

struct sl_log_segment {
    int64_t base_offset;
    int64_t next_offset; /* last offset + 1 appended (issued) into this segment */
    int fd;
    int64_t size;        /* bytes issued */
    int64_t written_pos; /* bytes whose writes completed, contiguously */
    int64_t synced_pos;  /* bytes covered by a completed fdatasync */
    int64_t sync_target_pos;
    sl_disk_op_t sync_op;
    bool sync_in_flight;
    bool in_round;         /* part of the dir's current group commit */
    bool index_flushed;    /* the index files on disk match memory */
    int32_t ops_in_flight; /* writes, reads and syncs using fd */
    uint64_t created_ms;   /* monotonic time of the first append; 0 while empty */
    int64_t bytes_since_index;
    sl_offset_index_entry_t *oidx;
    size_t oidx_count, oidx_cap;
    sl_time_index_entry_t *tidx;
    size_t tidx_count, tidx_cap;
    int64_t max_timestamp, offset_of_max_timestamp; /* -1 while no batch has a timestamp */
};

typedef sl_log_epoch_t sl_epoch_entry_t;

/* ---- idempotent producer state (producer_state.c) ---- */
/* One of a producer's last batches (Kafka's BatchMetadata). */
typedef struct {
    int32_t first_seq, last_seq; /* last_seq = first_seq + offset_delta, wrapping at INT32_MAX */
    int32_t offset_delta;        /* last_offset - base offset */
    int64_t last_offset;
    int64_t timestamp; /* the batch's MaxTimestamp as stored */
} sl_producer_batch_t;

typedef struct {
    int64_t producer_id; /* -1: a free slot */
    int64_t last_timestamp;
    int64_t current_txn_first_offset; /* always -1 until transactions exist */
    int32_t coordinator_epoch;
    int16_t epoch; /* -1 (RecordBatch.NO_PRODUCER_EPOCH) until a batch was seen */
    uint8_t batch_count, batch_first; /* ring of the current epoch's last batches */
    sl_producer_batch_t batches[SL_LOG_PRODUCER_BATCHES];
} sl_producer_entry_t;

/* Open addressing on producer id (linear probing, deletion by backward shift); cap is 0 or a power
 * of two, count <= cap / 2. */
typedef struct {
    sl_producer_entry_t *slots;
    size_t cap, count;
    uint64_t evictions;
} sl_producer_table_t;

/* A batch's producer fields, read from its header. */
typedef struct {
    int64_t producer_id, base_offset, last_offset, max_timestamp;
    int32_t first_seq, last_seq;
    int16_t epoch;
} sl_producer_batch_ref_t;

struct sl_log {
    sl_log_dir_t *dir;
    sl_log_t *next_in_dir;
    char *topic;
    char *path; /* <dir>/<topic>-<partition> */
    int32_t partition;
    sl_log_config_t cfg;
    sl_log_segment_t **segs; /* sorted by base offset; the last one is active */
    size_t seg_count, seg_cap;
    int64_t log_start_offset;
    int64_t log_end_offset; /* next offset to assign */
    int64_t written_offset; /* end of the contiguous completed writes */
    int64_t synced_offset;  /* end of what a completed fdatasync covers */
    int64_t sync_target_offset;
    int64_t high_watermark;
    sl_log_append_t *q_head, *q_tail; /* appends not yet completed, in offset order */
    sl_log_append_t *cursor;          /* first append not yet counted into written_offset */
    int32_t ops_in_flight;
    int32_t busy; /* > 0 while callbacks of this log run: close refuses */
    bool in_sync_round, round_done;
    sl_epoch_entry_t *epochs;
    size_t epoch_count, epoch_cap;
    int64_t max_timestamp, offset_of_max_timestamp;
    uint64_t last_flush_ms;
    int64_t unflushed_messages;
    void (*hw_cb)(sl_log_t *, void *);
    void *hw_data;
    sl_producer_table_t producers;
    int64_t *snapshots; /* offsets of the <offset>.snapshot files, ascending */
    size_t snapshot_count, snapshot_cap;
    /* log cleaner (cleaner.c): offsets below cleaner_checkpoint were compacted (segments wholly
     * below it may have offset gaps); -1 when never cleaned. */
    int64_t cleaner_checkpoint;
    int64_t clean_due_ms;          /* a kept tombstone's delete horizon passes: clean again */
    sl_log_clean_job_t *clean_job; /* the job out, if any */
    bool uncleanable; /* a job failed on its data (Kafka's uncleanable partition): until restart */
    /* Replicated (sl_log_make_replicated): the owner flushes and sets the high watermark. */
    bool replicated;
    sl_log_flush_t *flush_head, *flush_tail; /* sl_log_flush requests waiting, in call order */
    bool in_flush_call;                      /* inside sl_log_flush: settle nothing now */
};

struct sl_log_dir {
    char *path;
    sl_disk_t disk;
    const sl_clock_ops_t *clock;
    bool was_clean, offline, closing, round_active, sync_wanted;
    /* A round waits for the writes already in flight when it was asked for (so one fdatasync
     * covers them), but never for writes submitted later. */
    bool round_pending;
    uint64_t write_seq;      /* writes submitted so far */
    uint64_t barrier_seq;    /* the pending round waits for writes with seq <= this */
    int64_t barrier_waiting; /* ... of which this many are still in flight */
    int64_t writes_in_flight;
    int offline_err;
    sl_log_t *logs;
    int32_t round_syncs_in_flight;
    int64_t ops_in_flight; /* every async op of every log in the dir */
    int dir_fd;
    sl_disk_op_t close_op;
    sl_histogram_t fsync_latency; /* group-commit fdatasyncs, for /metrics */
    void (*close_done)(sl_log_dir_t *, void *);
    void *close_data;
};

/* segment.c */
int sl__segment_path(const sl_log_t *log, int64_t base_offset, const char *ext, char *out,
                     size_t cap);
/* <path>/<base><ext><suffix>, e.g. 00000000000000000000.log.cleaned */
int sl__segment_path_suffixed(const sl_log_t *log, int64_t base, const char *ext,
                              const char *suffix, char *out, size_t cap);
/* True when name is "<20 digits><ext><suffix>"; *base is the number. */
bool sl__segment_name_parse(const char *name, const char *ext, const char *suffix, int64_t *base);
int sl__segment_create(sl_log_t *log, int64_t base_offset, sl_log_segment_t **out);
void sl__segment_free(sl_log_dir_t *dir, sl_log_segment_t *seg);
int sl__segment_index_add(sl_log_segment_t *seg, int64_t last_offset, int64_t position,
                          int64_t max_timestamp_so_far, int64_t offset_of_max, bool force_time);
void sl__segment_note_batch(sl_log_segment_t *seg, const sl_batch_info_t *info, int64_t position,
                            int32_t index_interval_bytes);
int64_t sl__segment_lookup_offset(const sl_log_segment_t *seg, int64_t offset);
int64_t sl__segment_lookup_time(const sl_log_segment_t *seg, int64_t timestamp);
int sl__segment_write_indexes(sl_log_t *log, sl_log_segment_t *seg);
/* The same into <base>.index<suffix> and <base>.timeindex<suffix> (the cleaner's .cleaned). */
int sl__segment_write_indexes_as(sl_log_t *log, sl_log_segment_t *seg, const char *suffix);
void sl__segment_drop_indexes(sl_log_segment_t *seg);
int sl__segment_load_indexes(sl_log_t *log, sl_log_segment_t *seg, int64_t file_size);
sl_log_segment_t *sl__segment_wrap(int64_t base_offset, int fd);
/* Writes path.tmp, fsyncs, renames over path. */
int sl__write_file_atomic(sl_log_t *log, const char *path, const uint8_t *bytes, size_t len);
/* Reads a whole small file into an owned, NUL-terminated buffer; -ENOENT when missing. */
int sl__read_file(sl_log_t *log, const char *path, uint8_t **out, size_t *len);
int sl__log_segments_push(sl_log_t *log, sl_log_segment_t *seg);
size_t sl__log_segment_find(const sl_log_t *log, int64_t offset);

/* log_dir.c */
void sl__dir_go_offline(sl_log_dir_t *dir, int err, const char *what, const sl_log_t *log);
void sl__dir_want_sync(sl_log_dir_t *dir);
/* Bookkeeping for one append write: submitted (returns its seq) and completed. */
uint64_t sl__dir_write_submitted(sl_log_dir_t *dir);
void sl__dir_write_completed(sl_log_dir_t *dir, uint64_t seq);
void sl__dir_op_done(sl_log_dir_t *dir);
void sl__dir_add_log(sl_log_dir_t *dir, sl_log_t *log);
void sl__dir_remove_log(sl_log_dir_t *dir, sl_log_t *log);
/* Removes path and the files in it (one level: partition dirs hold no subdirectories). */
int sl__dir_remove_tree(sl_log_dir_t *dir, const char *path);

/* Deletes <base>.log, .index and .timeindex (missing ones are fine). */
int sl__segment_delete_files(sl_log_t *log, int64_t base);
/* Deletes <base>.index and .timeindex only: index files on disk exist only for segments that were
 * fully synced at their final size (recovery trusts them without walking the segment). */
int sl__segment_delete_index_files(sl_log_t *log, int64_t base);

/* log.c */
bool sl__log_config_valid(const sl_log_config_t *cfg);
/* Completes the waiting sl_log_flush requests the synced end now covers; fails them all (through
 * the disk, so never inside the caller's call) when the dir is offline. */
void sl__log_settle_flushes(sl_log_t *log);
/* Whether appends ask for a group commit by themselves (false for replicated logs). */
static inline bool sl__log_syncs_on_ack(const sl_log_t *log)
{
    return log->cfg.sync_on_ack && !log->replicated;
}
void sl__log_complete_ready(sl_log_t *log);
void sl__log_set_hw(sl_log_t *log, int64_t hw);
int sl__log_write_epochs(sl_log_t *log);

/* recovery.c */
int sl__log_recover(sl_log_t *log);

/* retention.c */
int sl__log_trim_epochs_front(sl_log_t *log);

/* producer_state.c */
/* Reads the producer fields of the v2 batch header at hdr (61 bytes); false for batches without a
 * producer id and for control batches. */
bool sl__producer_batch_read(const uint8_t *hdr, sl_producer_batch_ref_t *out);
/* Makes sure recording producer_id cannot fail (room in the table): 0 or -ENOMEM. */
int sl__producers_reserve(sl_log_t *log, int64_t producer_id);
/* Records a batch without checking it (after sl__producers_reserve for its producer id). */
void sl__producers_note(sl_log_t *log, const sl_producer_batch_ref_t *b);
void sl__producers_deinit(sl_log_t *log);
/* After a truncation: forgets the state and loads it again from what the log still holds. */
int sl__producers_reload(sl_log_t *log);
/* Writes <offset>.snapshot with the current state (tmp + fsync + rename). */
int sl__producers_snapshot_write(sl_log_t *log, int64_t offset);
/* At open, after recovery and the log start offset: drops snapshots outside (start, end], loads
 * the newest that reads back, replays the batch headers after it (or the whole log). */
int sl__producers_load(sl_log_t *log);
/* After retention deleted segments: removes snapshots below the first segment but the newest. */
int sl__producers_trim_snapshots(sl_log_t *log);
/* After the cleaner compacted below offset: removes older snapshots (a compacted log's segments
 * are never deleted, so their roll snapshots would pile up), keeping the newest two. */
int sl__producers_trim_snapshots_below(sl_log_t *log, int64_t offset);
/* The snapshot file codec (Kafka's version 1). decode fills an empty table; SL_ECORRUPT when the
 * bytes are not a valid snapshot. */
int sl__producer_snapshot_encode(const sl_producer_table_t *t, sl_buf_t *out);
int sl__producer_snapshot_decode(const uint8_t *p, size_t len, sl_producer_table_t *t);
void sl__producer_table_deinit(sl_producer_table_t *t);

/* log_start.c: Kafka's offset checkpoint text format ("0\n1\n<topic> <partition> <offset>\n"),
 * one file per partition: log-start-offset-checkpoint, cleaner-offset-checkpoint. read gives -1
 * when the file is missing or damaged. */
int sl__checkpoint_write(sl_log_t *log, const char *name, int64_t offset);
int64_t sl__checkpoint_read(sl_log_t *log, const char *name);

/* log_start.c: after recovery, raises the log start offset to what log-start-offset-checkpoint
 * says (never past the log end). */
void sl__log_load_start_offset(sl_log_t *log);

#endif
