/* fuzz_producer_snapshot: arbitrary bytes as a producer state snapshot (Kafka's version 1 format).
 * Decoding must never crash; what decodes must encode back to a snapshot that decodes to the same
 * producers. Then the bytes are put beside a one-batch segment as 00000000000000000001.snapshot
 * and the log is opened: a snapshot that does not decode is deleted and the state rebuilt from the
 * segment (its producer 42 at sequence 7), never a failed open.
 * Input: the snapshot file's bytes. */
#include <stdlib.h>
#include <string.h>

#include "../unit/log/batch_builder.c"
#include "../unit/support/sim_disk.c"
#include "log/log_int.h"

#define SNAP "/data/f-0/00000000000000000001.snapshot"

static void on_closed(sl_log_dir_t *dir, void *data)
{
    (void)dir; /* freed after */
    *(bool *)data = true;
}

static const sl_producer_entry_t *find(const sl_producer_table_t *t, int64_t pid)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].producer_id == pid)
            return &t->slots[i];
    return NULL;
}

/* decode -> encode -> decode keeps every producer's epoch, last batch and timestamps. */
static void roundtrip(const uint8_t *data, size_t size)
{
    sl_producer_table_t t = {0}, u = {0};
    if (sl__producer_snapshot_decode(data, size, &t) != 0)
        return;
    sl_buf_t b;
    sl_buf_init(&b, 0);
    if (sl__producer_snapshot_encode(&t, &b) != 0 ||
        sl__producer_snapshot_decode(b.ptr, b.len, &u) != 0 || u.count != t.count)
        abort();
    for (size_t i = 0; i < t.cap; i++) {
        const sl_producer_entry_t *e = &t.slots[i], *f;
        if (e->producer_id < 0)
            continue;
        if ((f = find(&u, e->producer_id)) == NULL || f->epoch != e->epoch ||
            f->batch_count != e->batch_count || f->last_timestamp != e->last_timestamp ||
            (e->batch_count == 1 &&
             memcmp(&f->batches[0], &e->batches[0], sizeof e->batches[0]) != 0))
            abort();
    }
    sl_buf_deinit(&b);
    sl__producer_table_deinit(&t);
    sl__producer_table_deinit(&u);
}

/* One batch from producer 42, epoch 3, sequence 7, at offset 0. */
static size_t segment_bytes(uint8_t *out, size_t cap)
{
    size_t len = batch_build(out, cap, 1, 1700000000000, 4, 0x11);
    sl__put_be64(out + SL_BATCH_OFF_PRODUCER_ID, 42);
    out[SL_BATCH_OFF_PRODUCER_EPOCH + 1] = 3;
    out[SL_BATCH_OFF_PRODUCER_EPOCH] = 0;
    sl__put_be32(out + SL_BATCH_OFF_BASE_SEQUENCE, 7);
    sl__put_be32(out + SL_BATCH_OFF_CRC, sl_crc32c(0, out + 21, len - 21));
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_log_configure(SL_LOG_OFF, SL_LOG_FORMAT_TEXT);
    roundtrip(data, size);
    sim_disk_t *sim = sim_disk_create();
    sl_disk_t disk = sim_disk_seam(sim);
    disk.ops->mkdir(&disk, "/data");
    disk.ops->mkdir(&disk, "/data/f-0");
    uint8_t seg[256];
    size_t seg_len = segment_bytes(seg, sizeof seg);
    sim_disk_write_file(sim, "/data/f-0/00000000000000000000.log", seg, seg_len);
    sim_disk_write_file(sim, SNAP, data, size);
    sim_clock_t clock;
    sim_clock_init(&clock, 1700000000000);
    sl_log_dir_t *dir = NULL;
    if (sl_log_dir_open("/data", disk, &clock.ops, &dir) != 0)
        abort();
    sl_log_config_t cfg;
    sl_log_config_default(&cfg);
    sl_log_t *log = NULL;
    if (sl_log_open(dir, "f", 0, NULL, &cfg, &log) != 0)
        abort();
    sl_producer_table_t t = {0};
    bool valid = sl__producer_snapshot_decode(data, size, &t) == 0;
    sl__producer_table_deinit(&t);
    size_t n = 0;
    if (!valid && (sim_disk_file(sim, SNAP, &n) != NULL || find(&log->producers, 42) == NULL ||
                   sl_log_producers(log, NULL, 0) != 1))
        abort();
    bool closed = false;
    sl_log_dir_close(dir, on_closed, &closed);
    sim_disk_run(sim);
    if (!closed)
        abort();
    sim_disk_destroy(sim);
    return 0;
}
