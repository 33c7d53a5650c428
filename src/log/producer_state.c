/* producer_state: idempotent producers per partition, by Kafka's rules (ProducerStateManager):
 * per producer id the epoch and the last 5 batches of that epoch (sequence range, offsets,
 * MaxTimestamp), checked before an append, recorded at submission, rebuilt from batch headers at
 * recovery and snapshotted in <offset>.snapshot files (Kafka's version 1 format, docs/formats.md).
 * Invariants: a snapshot at offset S holds the state of every batch below S; snapshots never lie
 * above the log end offset once the log is open; the table never holds more than
 * SL_LOG_PRODUCERS_MAX producers (the one with the oldest last timestamp goes first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_int.h"

#define SNAPSHOT_VERSION 1
#define SNAPSHOT_HEADER_BYTES 10 /* version i16, crc u32, entry count i32 */
#define SNAPSHOT_CRC_FROM 6      /* the CRC covers the count and the entries */
#define SNAPSHOT_ENTRY_BYTES 46  /* i64 i16 i32 i64 i32 i64 i32 i64 */
#define NO_PRODUCER_EPOCH (-1)
#define REPLAY_CHUNK_BYTES (256 * 1024)

/* ---- sequences (Kafka's DefaultRecordBatch.incrementSequence / decrementSequence) ---- */

static int32_t seq_add(int32_t seq, int32_t delta)
{
    if (seq > INT32_MAX - delta)
        return delta - (INT32_MAX - seq) - 1;
    return seq + delta;
}

static int32_t seq_sub(int32_t seq, int32_t delta)
{
    if (seq < delta)
        return INT32_MAX - (delta - seq) + 1;
    return seq - delta;
}

static bool in_sequence(int32_t last_seq, int32_t next_seq)
{
    return (int64_t)next_seq == (int64_t)last_seq + 1 || (next_seq == 0 && last_seq == INT32_MAX);
}

/* ---- the table ---- */

static size_t slot_of(const sl_producer_table_t *t, int64_t producer_id)
{
    uint64_t x = (uint64_t)producer_id + 0x9e3779b97f4a7c15ULL; /* splitmix64 finaliser */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return (size_t)(x ^ (x >> 31)) & (t->cap - 1);
}

static sl_producer_entry_t *table_find(const sl_producer_table_t *t, int64_t producer_id)
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = slot_of(t, producer_id), n = 0; n < t->cap; i = (i + 1) & (t->cap - 1), n++) {
        if (t->slots[i].producer_id == producer_id)
            return &t->slots[i];
        if (t->slots[i].producer_id < 0)
            return NULL;
    }
    return NULL; /* unreachable: the table is never full */
}

static sl_producer_entry_t *table_put(sl_producer_table_t *t, int64_t producer_id)
{
    SL_ASSERT(producer_id >= 0);
    SL_ASSERT(t->count < t->cap / 2 + 1 && t->cap > 0);
    size_t i = slot_of(t, producer_id);
    while (t->slots[i].producer_id >= 0 && t->slots[i].producer_id != producer_id)
        i = (i + 1) & (t->cap - 1);
    sl_producer_entry_t *e = &t->slots[i];
    if (e->producer_id < 0) {
        *e = (sl_producer_entry_t){.producer_id = producer_id,
                                   .last_timestamp = -1,
                                   .current_txn_first_offset = -1,
                                   .coordinator_epoch = -1,
                                   .epoch = NO_PRODUCER_EPOCH};
        t->count++;
    }
    return e;
}

static void table_remove(sl_producer_table_t *t, sl_producer_entry_t *e)
{
    size_t mask = t->cap - 1, hole = (size_t)(e - t->slots);
    SL_ASSERT(hole < t->cap && e->producer_id >= 0);
    t->slots[hole].producer_id = -1;
    t->count--;
    /* Backward shift: move later members of the cluster into the hole when their home slot is
     * not between the hole and where they sit. */
    for (size_t i = (hole + 1) & mask; t->slots[i].producer_id >= 0; i = (i + 1) & mask) {
        size_t home = slot_of(t, t->slots[i].producer_id);
        bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (stays)
            continue;
        t->slots[hole] = t->slots[i];
        t->slots[i].producer_id = -1;
        hole = i;
    }
}

static int table_grow(sl_producer_table_t *t, size_t cap)
{
    sl_producer_entry_t *slots = sl_malloc(cap * sizeof *slots);
    if (slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < cap; i++)
        slots[i].producer_id = -1;
    sl_producer_table_t next = {.slots = slots, .cap = cap, .evictions = t->evictions};
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].producer_id >= 0)
            *table_put(&next, t->slots[i].producer_id) = t->slots[i];
    }
    SL_ASSERT(next.count == t->count);
    sl_free(t->slots);
    *t = next;
    return 0;
}

/* Room for one more producer: grows the table, or evicts the producer idle the longest. */
static int table_reserve_one(sl_producer_table_t *t)
{
    if (t->count >= SL_LOG_PRODUCERS_MAX) {
        sl_producer_entry_t *oldest = NULL;
        for (size_t i = 0; i < t->cap; i++) {
            sl_producer_entry_t *e = &t->slots[i];
            if (e->producer_id >= 0 &&
                (oldest == NULL || e->last_timestamp < oldest->last_timestamp))
                oldest = e;
        }
        SL_ASSERT(oldest != NULL);
        if (t->evictions++ % 1024 == 0)
            SL_LOG(SL_LOG_WARN, "log", "producer state full, evicting idle producers count=%zu",
                   t->count);
        table_remove(t, oldest);
        return 0;
    }
    if ((t->count + 1) * 2 <= t->cap)
        return 0;
    return table_grow(t, t->cap ? t->cap * 2 : 8);
}

void sl__producer_table_deinit(sl_producer_table_t *t)
{
    sl_free(t->slots);
    *t = (sl_producer_table_t){0};
}

static void entry_add_batch(sl_producer_entry_t *e, int16_t epoch, sl_producer_batch_t b,
                            int64_t last_timestamp)
{
    if (e->epoch != epoch) { /* a new epoch forgets the old one's batches */
        e->epoch = epoch;
        e->batch_count = e->batch_first = 0;
    }
    if (e->batch_count == SL_LOG_PRODUCER_BATCHES) {
        e->batch_first = (uint8_t)((e->batch_first + 1) % SL_LOG_PRODUCER_BATCHES);
        e->batch_count--;
    }
    e->batches[(e->batch_first + e->batch_count) % SL_LOG_PRODUCER_BATCHES] = b;
    e->batch_count++;
    e->last_timestamp = last_timestamp;
    SL_ASSERT(e->batch_count <= SL_LOG_PRODUCER_BATCHES);
}

static const sl_producer_batch_t *entry_last(const sl_producer_entry_t *e)
{
    if (e->batch_count == 0)
        return NULL;
    return &e->batches[(e->batch_first + e->batch_count - 1) % SL_LOG_PRODUCER_BATCHES];
}

/* ---- checks and recording ---- */

sl_producer_verdict_t sl_log_producer_check(const sl_log_t *log, const sl_record_batch_t *batch,
                                            int64_t *dup_base_offset, int64_t *dup_log_append_time)
{
    SL_ASSERT(log != NULL && batch != NULL);
    SL_ASSERT(batch->producer_id >= 0);
    const sl_producer_entry_t *e = table_find(&log->producers, batch->producer_id);
    if (e == NULL)
        return SL_PRODUCER_OK; /* Kafka 3.x: a producer without state starts at any sequence */
    int32_t first = batch->base_sequence;
    int32_t last = first >= 0 && batch->last_offset_delta >= 0
                       ? seq_add(first, batch->last_offset_delta)
                       : first;
    if (batch->producer_epoch == e->epoch) {
        for (uint8_t i = 0; i < e->batch_count; i++) {
            const sl_producer_batch_t *b =
                &e->batches[(e->batch_first + i) % SL_LOG_PRODUCER_BATCHES];
            if (b->first_seq == first && b->last_seq == last) {
                if (dup_base_offset != NULL)
                    *dup_base_offset = b->last_offset - b->offset_delta;
                if (dup_log_append_time != NULL)
                    *dup_log_append_time = b->timestamp;
                return SL_PRODUCER_DUPLICATE;
            }
        }
    }
    if (batch->producer_epoch < e->epoch)
        return SL_PRODUCER_INVALID_EPOCH;
    if (first < 0)
        return SL_PRODUCER_OUT_OF_ORDER; /* the broker refuses these first (INVALID_RECORD) */
    if (e->epoch == NO_PRODUCER_EPOCH)
        return SL_PRODUCER_OK; /* state without an epoch: any sequence, as Kafka */
    if (batch->producer_epoch != e->epoch)
        return first == 0 ? SL_PRODUCER_OK : SL_PRODUCER_OUT_OF_ORDER; /* a bump starts at 0 */
    const sl_producer_batch_t *lb = entry_last(e);
    return in_sequence(lb ? lb->last_seq : -1, first) ? SL_PRODUCER_OK : SL_PRODUCER_OUT_OF_ORDER;
}

bool sl__producer_batch_read(const uint8_t *hdr, sl_producer_batch_ref_t *out)
{
    SL_ASSERT(hdr != NULL && out != NULL);
    int64_t producer_id = sl__be64(hdr + SL_BATCH_OFF_PRODUCER_ID);
    if (producer_id < 0 || (hdr[SL_BATCH_OFF_ATTRIBUTES + 1] & SL_BATCH_ATTR_CONTROL) != 0)
        return false;
    int32_t delta = (int32_t)sl__be32(hdr + SL_BATCH_OFF_LAST_OFFSET_DELTA);
    int32_t first = (int32_t)sl__be32(hdr + SL_BATCH_OFF_BASE_SEQUENCE);
    int64_t base = sl__be64(hdr + SL_BATCH_OFF_BASE_OFFSET);
    *out = (sl_producer_batch_ref_t){
        .producer_id = producer_id,
        .base_offset = base,
        .last_offset = base + (delta > 0 ? delta : 0),
        .max_timestamp = sl__be64(hdr + SL_BATCH_OFF_MAX_TIMESTAMP),
        .first_seq = first,
        .last_seq = first >= 0 && delta >= 0 ? seq_add(first, delta) : first,
        .epoch = (int16_t)(((uint16_t)hdr[SL_BATCH_OFF_PRODUCER_EPOCH] << 8) |
                           hdr[SL_BATCH_OFF_PRODUCER_EPOCH + 1]),
    };
    return true;
}

int sl__producers_reserve(sl_log_t *log, int64_t producer_id)
{
    SL_ASSERT(producer_id >= 0);
    if (table_find(&log->producers, producer_id) != NULL)
        return 0;
    int rc = table_reserve_one(&log->producers);
    SL_ASSERT(rc < 0 || log->producers.count < log->producers.cap / 2 + 1);
    return rc;
}

void sl__producers_note(sl_log_t *log, const sl_producer_batch_ref_t *b)
{
    SL_ASSERT(b->producer_id >= 0);
    SL_ASSERT(b->last_offset >= b->base_offset);
    sl_producer_entry_t *e = table_put(&log->producers, b->producer_id);
    sl_producer_batch_t meta = {.first_seq = b->first_seq,
                                .last_seq = b->last_seq,
                                .offset_delta = (int32_t)(b->last_offset - b->base_offset),
                                .last_offset = b->last_offset,
                                .timestamp = b->max_timestamp};
    entry_add_batch(e, b->epoch, meta, b->max_timestamp);
}

size_t sl_log_producers(const sl_log_t *log, sl_producer_info_t *out, size_t max)
{
    SL_ASSERT(log != NULL);
    SL_ASSERT(out != NULL || max == 0);
    const sl_producer_table_t *t = &log->producers;
    size_t n = 0;
    for (size_t i = 0; i < t->cap && n < max; i++) {
        const sl_producer_entry_t *e = &t->slots[i];
        if (e->producer_id < 0)
            continue;
        const sl_producer_batch_t *lb = entry_last(e);
        out[n++] = (sl_producer_info_t){.producer_id = e->producer_id,
                                        .producer_epoch = e->epoch,
                                        .last_sequence = lb ? lb->last_seq : -1,
                                        .last_timestamp = e->last_timestamp,
                                        .current_txn_start_offset = e->current_txn_first_offset};
    }
    return t->count;
}

void sl_log_producers_expire(sl_log_t *log, int64_t now_ms, int64_t expiration_ms)
{
    SL_ASSERT(log != NULL);
    sl_producer_table_t *t = &log->producers;
    size_t before = t->count;
    /* A removal shifts later cluster members back into slot i, so slot i is looked at again;
     * nothing unvisited ever moves below i. */
    for (size_t i = 0, steps = 0; i < t->cap && steps < 2 * t->cap + before; steps++) {
        sl_producer_entry_t *e = &t->slots[i];
        if (e->producer_id >= 0 && e->current_txn_first_offset < 0 &&
            now_ms - e->last_timestamp >= expiration_ms)
            table_remove(t, e);
        else
            i++;
    }
    if (t->count < before)
        SL_LOG(SL_LOG_INFO, "log",
               "expired producers topic=%s partition=%" PRId32 " expired=%zu remaining=%zu",
               log->topic, log->partition, before - t->count, t->count);
}

void sl__producers_deinit(sl_log_t *log)
{
    sl__producer_table_deinit(&log->producers);
    sl_free(log->snapshots);
    log->snapshots = NULL;
    log->snapshot_count = log->snapshot_cap = 0;
}

/* ---- snapshot files ---- */

static void put_be16(uint8_t *p, int16_t v)
{
    p[0] = (uint8_t)((uint16_t)v >> 8);
    p[1] = (uint8_t)v;
}

static int16_t get_be16(const uint8_t *p)
{
    return (int16_t)(((uint16_t)p[0] << 8) | p[1]);
}

int sl__producer_snapshot_encode(const sl_producer_table_t *t, sl_buf_t *out)
{
    SL_ASSERT(t->count <= SL_LOG_PRODUCERS_MAX);
    size_t len = SNAPSHOT_HEADER_BYTES + t->count * SNAPSHOT_ENTRY_BYTES;
    int rc = sl_buf_reserve(out, len);
    if (rc < 0)
        return rc;
    uint8_t *p = out->ptr + out->len, *q = p + SNAPSHOT_HEADER_BYTES;
    put_be16(p, SNAPSHOT_VERSION);
    sl__put_be32(p + 6, (uint32_t)t->count);
    for (size_t i = 0; i < t->cap; i++) {
        const sl_producer_entry_t *e = &t->slots[i];
        if (e->producer_id < 0)
            continue;
        const sl_producer_batch_t *lb = entry_last(e);
        sl__put_be64(q, e->producer_id);
        put_be16(q + 8, e->epoch);
        sl__put_be32(q + 10, (uint32_t)(lb ? lb->last_seq : -1));
        sl__put_be64(q + 14, lb ? lb->last_offset : -1);
        sl__put_be32(q + 22, (uint32_t)(lb ? lb->offset_delta : 0));
        sl__put_be64(q + 26, e->last_timestamp);
        sl__put_be32(q + 34, (uint32_t)e->coordinator_epoch);
        sl__put_be64(q + 38, e->current_txn_first_offset);
        q += SNAPSHOT_ENTRY_BYTES;
    }
    SL_ASSERT((size_t)(q - p) == len);
    sl__put_be32(p + 2, sl_crc32c(0, p + SNAPSHOT_CRC_FROM, len - SNAPSHOT_CRC_FROM));
    out->len += len;
    return 0;
}

/* One entry of a snapshot into t (which has room); SL_ECORRUPT when its fields cannot hold. */
static int decode_entry(const uint8_t *q, sl_producer_table_t *t)
{
    int64_t producer_id = sl__be64(q);
    int32_t last_seq = (int32_t)sl__be32(q + 10);
    int64_t last_offset = sl__be64(q + 14);
    int32_t delta = (int32_t)sl__be32(q + 22);
    if (producer_id < 0 || (last_offset >= 0 && (delta < 0 || delta > last_offset)))
        return SL_ECORRUPT;
    if (table_reserve_one(t) < 0)
        return -ENOMEM;
    sl_producer_entry_t *e = table_put(t, producer_id);
    e->batch_count = e->batch_first = 0; /* a repeated id: the later entry wins, as in Kafka */
    e->epoch = get_be16(q + 8);
    e->last_timestamp = sl__be64(q + 26);
    e->coordinator_epoch = (int32_t)sl__be32(q + 34);
    e->current_txn_first_offset = sl__be64(q + 38);
    if (last_offset >= 0) {
        /* Kafka keeps only the last batch in a snapshot; its first sequence is derived. */
        e->batches[0] =
            (sl_producer_batch_t){.first_seq = last_seq >= 0 ? seq_sub(last_seq, delta) : last_seq,
                                  .last_seq = last_seq,
                                  .offset_delta = delta,
                                  .last_offset = last_offset,
                                  .timestamp = e->last_timestamp};
        e->batch_count = 1;
    }
    return 0;
}

int sl__producer_snapshot_decode(const uint8_t *p, size_t len, sl_producer_table_t *t)
{
    SL_ASSERT(t->count == 0);
    if (len < SNAPSHOT_HEADER_BYTES || get_be16(p) != SNAPSHOT_VERSION)
        return SL_ECORRUPT;
    if (sl__be32(p + 2) != sl_crc32c(0, p + SNAPSHOT_CRC_FROM, len - SNAPSHOT_CRC_FROM))
        return SL_ECORRUPT;
    int32_t count = (int32_t)sl__be32(p + 6);
    if (count < 0 || count > SL_LOG_PRODUCERS_MAX ||
        (size_t)count != (len - SNAPSHOT_HEADER_BYTES) / SNAPSHOT_ENTRY_BYTES ||
        (len - SNAPSHOT_HEADER_BYTES) % SNAPSHOT_ENTRY_BYTES != 0)
        return SL_ECORRUPT;
    for (int32_t i = 0; i < count; i++) {
        int rc = decode_entry(p + SNAPSHOT_HEADER_BYTES + (size_t)i * SNAPSHOT_ENTRY_BYTES, t);
        if (rc < 0) {
            sl__producer_table_deinit(t);
            return rc;
        }
    }
    SL_ASSERT(t->count <= (size_t)count);
    return 0;
}

static int snapshot_path(const sl_log_t *log, int64_t offset, char *out, size_t cap)
{
    return sl__segment_path(log, offset, ".snapshot", out, cap);
}

/* Remembers a snapshot offset (ascending, no repeats). */
static int snapshots_add(sl_log_t *log, int64_t offset)
{
    size_t i = log->snapshot_count;
    while (i > 0 && log->snapshots[i - 1] > offset)
        i--;
    if (i > 0 && log->snapshots[i - 1] == offset)
        return 0;
    if (log->snapshot_count == SL_LOG_SNAPSHOTS_MAX)
        return SL_ELIMIT;
    if (log->snapshot_count == log->snapshot_cap) {
        size_t cap = log->snapshot_cap ? log->snapshot_cap * 2 : 8;
        int64_t *p = sl_realloc(log->snapshots, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        log->snapshots = p;
        log->snapshot_cap = cap;
    }
    memmove(log->snapshots + i + 1, log->snapshots + i,
            (log->snapshot_count - i) * sizeof *log->snapshots);
    log->snapshots[i] = offset;
    log->snapshot_count++;
    return 0;
}

/* Deletes the file of snapshots[i] and forgets it. */
static int snapshots_remove(sl_log_t *log, size_t i)
{
    SL_ASSERT(i < log->snapshot_count);
    char path[SL_LOG_PATH_BYTES_MAX];
    int rc = snapshot_path(log, log->snapshots[i], path, sizeof path);
    if (rc == 0)
        rc = log->dir->disk.ops->unlink(&log->dir->disk, path);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    memmove(log->snapshots + i, log->snapshots + i + 1,
            (log->snapshot_count - i - 1) * sizeof *log->snapshots);
    log->snapshot_count--;
    return 0;
}

int sl__producers_snapshot_write(sl_log_t *log, int64_t offset)
{
    SL_ASSERT(offset >= 0);
    SL_ASSERT(offset <= log->log_end_offset);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    char path[SL_LOG_PATH_BYTES_MAX];
    int rc = sl__producer_snapshot_encode(&log->producers, &b);
    if (rc == 0)
        rc = snapshot_path(log, offset, path, sizeof path);
    if (rc == 0)
        rc = sl__write_file_atomic(log, path, b.ptr, b.len);
    if (rc == 0)
        rc = snapshots_add(log, offset);
    sl_buf_deinit(&b);
    return rc;
}

int sl__producers_trim_snapshots(sl_log_t *log)
{
    SL_ASSERT(log->seg_count > 0);
    int64_t first = log->segs[0]->base_offset;
    int rc = 0;
    /* The newest snapshot stays whatever its offset: it is what the next open starts from. */
    while (rc == 0 && log->snapshot_count > 1 && log->snapshots[0] < first)
        rc = snapshots_remove(log, 0);
    return rc;
}

int sl__producers_trim_snapshots_below(sl_log_t *log, int64_t offset)
{
    int rc = 0;
    /* Kafka keeps few snapshots; the newest two stay whatever their offsets. */
    while (rc == 0 && log->snapshot_count > 2 && log->snapshots[0] < offset)
        rc = snapshots_remove(log, 0);
    return rc;
}

/* ---- rebuilding at open ---- */

static int collect_snapshot(const char *name, void *data)
{
    sl_log_t *log = data;
    if (strlen(name) != 29 || strcmp(name + 20, ".snapshot") != 0)
        return 0;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (name[i] - '0');
    }
    return snapshots_add(log, v);
}

/* Loads the snapshot at offset into the (empty) table: 0, SL_ECORRUPT, or -errno. */
static int snapshot_read(sl_log_t *log, int64_t offset)
{
    char path[SL_LOG_PATH_BYTES_MAX];
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = snapshot_path(log, offset, path, sizeof path);
    if (rc == 0)
        rc = sl__read_file(log, path, &bytes, &len);
    if (rc == -ENOENT)
        rc = SL_ECORRUPT; /* listed a moment ago: gone is as good as damaged */
    if (rc == 0)
        rc = sl__producer_snapshot_decode(bytes, len, &log->producers);
    sl_free(bytes);
    return rc;
}

/* Walks the batch headers of seg from pos, recording producers of batches at or above from.
 * Recovery already checked these batches; a header that does not add up ends the walk. */
static int replay_segment(sl_log_t *log, sl_log_segment_t *seg, int64_t pos, int64_t from,
                          uint8_t *buf, int64_t *batches)
{
    sl_disk_t *disk = &log->dir->disk;
    int64_t win_pos = 0, win_len = 0;
    for (int64_t steps = 0; pos < seg->size && steps <= seg->size / SL_BATCH_HEADER_BYTES;
         steps++) {
        if (pos < win_pos || pos + SL_BATCH_HEADER_BYTES > win_pos + win_len) {
            int64_t want = SL_MIN((int64_t)REPLAY_CHUNK_BYTES, seg->size - pos);
            int64_t n = disk->ops->pread_sync(disk, seg->fd, buf, (size_t)want, pos);
            if (n < 0)
                return (int)n;
            win_pos = pos;
            win_len = n;
            if (n < SL_BATCH_HEADER_BYTES)
                break;
        }
        const uint8_t *hdr = buf + (pos - win_pos);
        int64_t bytes = (int64_t)sl__be32(hdr + SL_BATCH_OFF_LENGTH) + SL_BATCH_LOG_OVERHEAD;
        if (bytes < SL_BATCH_HEADER_BYTES || bytes > seg->size - pos) {
            SL_LOG(SL_LOG_WARN, "log", "producer state replay stopped dir=%s position=%" PRId64,
                   log->path, pos);
            break;
        }
        sl_producer_batch_ref_t ref;
        if (sl__producer_batch_read(hdr, &ref) && ref.base_offset >= from &&
            ref.last_offset >= ref.base_offset) {
            int rc = sl__producers_reserve(log, ref.producer_id);
            if (rc < 0)
                return rc;
            sl__producers_note(log, &ref);
            (*batches)++;
        }
        pos += bytes;
    }
    return 0;
}

static int replay(sl_log_t *log, int64_t from, int64_t *batches)
{
    if (from >= log->log_end_offset)
        return 0;
    uint8_t *buf = sl_malloc(REPLAY_CHUNK_BYTES);
    if (buf == NULL)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = sl__log_segment_find(log, from); rc == 0 && i < log->seg_count; i++) {
        sl_log_segment_t *seg = log->segs[i];
        int64_t pos = seg->base_offset <= from ? sl__segment_lookup_offset(seg, from) : 0;
        rc = replay_segment(log, seg, pos, from, buf, batches);
    }
    sl_free(buf);
    return rc;
}

/* Kafka's truncateAndReload at open: snapshots above the log end (a cut tail) or at or below the
 * log start (their producers' batches are gone) are deleted. */
static int drop_unusable_snapshots(sl_log_t *log)
{
    int rc = 0;
    for (size_t i = log->snapshot_count; rc == 0 && i-- > 0;) {
        if (log->snapshots[i] > log->log_end_offset || log->snapshots[i] <= log->log_start_offset)
            rc = snapshots_remove(log, i);
    }
    return rc;
}

int sl__producers_load(sl_log_t *log)
{
    SL_ASSERT(log->producers.count == 0 && log->snapshot_count == 0);
    int rc = log->dir->disk.ops->list_dir(&log->dir->disk, log->path, collect_snapshot, log);
    if (rc == 0)
        rc = drop_unusable_snapshots(log);
    int64_t from = log->log_start_offset, batches = 0;
    bool loaded = false;
    while (rc == 0 && !loaded && log->snapshot_count > 0) {
        int64_t offset = log->snapshots[log->snapshot_count - 1];
        rc = snapshot_read(log, offset);
        loaded = rc == 0;
        if (loaded)
            from = offset;
        if (rc == SL_ECORRUPT) {
            SL_LOG(SL_LOG_WARN, "log", "ignoring damaged producer snapshot dir=%s offset=%" PRId64,
                   log->path, offset);
            rc = snapshots_remove(log, log->snapshot_count - 1);
        }
    }
    if (rc == 0)
        rc = replay(log, from, &batches);
    if (rc < 0)
        return rc;
    SL_LOG(SL_LOG_DEBUG, "log",
           "producer state loaded dir=%s snapshot=%s from=%" PRId64 " batches_replayed=%" PRId64
           " producers=%zu",
           log->path, loaded ? "yes" : "no", from, batches, log->producers.count);
    return 0;
}

int sl__producers_reload(sl_log_t *log)
{
    sl__producers_deinit(log);
    return sl__producers_load(log);
}
