/* test_producer_state: idempotent producer state on sim_disk: Kafka's sequence rules (new producer,
 * next, gap, duplicates of the last 5, older than 5, wrap-around at INT32_MAX, epoch bumps, older
 * epochs, interleaved producers), state recorded at submission, expiry, the snapshot codec, and
 * the state across clean close, crash, torn tails, rolls and retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_builder.h"
#include "log/log_int.h"
#include "sim_disk.h"

#define BATCH_CAP 2048
#define APPENDS_MAX 64
#define TS0 1700000000000LL
#define DIR "/data/ps-0"

typedef struct {
    sl_log_append_t req;
    uint8_t buf[BATCH_CAP];
    size_t len;
    bool done;
    int status;
} app_t;

typedef struct {
    sim_disk_t *sim;
    sim_clock_t clock;
    sl_log_dir_t *dir;
    sl_log_t *log;
    sl_log_config_t cfg;
    app_t apps[APPENDS_MAX];
    size_t apps_used;
} env_t;

static void env_open(env_t *e)
{
    sl_disk_t d = sim_disk_seam(e->sim);
    if (d.ops->exists(&d, "/data") == 0)
        assert_int_equal(d.ops->mkdir(&d, "/data"), 0);
    if (e->clock.ops.data == NULL)
        sim_clock_init(&e->clock, TS0);
    e->clock.ops.data = &e->clock; /* the env may have been copied */
    assert_int_equal(sl_log_dir_open("/data", d, &e->clock.ops, &e->dir), 0);
    if (e->cfg.segment_bytes == 0) {
        sl_log_config_default(&e->cfg);
        e->cfg.retention_ms = -1;
    }
    assert_int_equal(sl_log_open(e->dir, "ps", 0, NULL, &e->cfg, &e->log), 0);
}

static void on_dir_closed(sl_log_dir_t *dir, void *data)
{
    (void)dir; /* freed right after */
    *(bool *)data = true;
}

static void env_close(env_t *e)
{
    bool closed = false;
    sl_log_dir_close(e->dir, on_dir_closed, &closed);
    sim_disk_run(e->sim);
    assert_true(closed);
    e->dir = NULL;
    e->log = NULL;
}

/* A batch of count records from producer pid/epoch starting at seq (timestamps ts..). */
static size_t build(uint8_t *out, int64_t pid, int16_t epoch, int32_t seq, int count, int64_t ts)
{
    size_t len = batch_build(out, BATCH_CAP, count, ts, 8, 0x5a);
    assert_true(len > 0);
    sl__put_be64(out + SL_BATCH_OFF_PRODUCER_ID, pid);
    out[SL_BATCH_OFF_PRODUCER_EPOCH] = (uint8_t)((uint16_t)epoch >> 8);
    out[SL_BATCH_OFF_PRODUCER_EPOCH + 1] = (uint8_t)epoch;
    sl__put_be32(out + SL_BATCH_OFF_BASE_SEQUENCE, (uint32_t)seq);
    sl__put_be32(out + SL_BATCH_OFF_CRC, sl_crc32c(0, out + 21, len - 21));
    return len;
}

static sl_producer_verdict_t check(env_t *e, int64_t pid, int16_t epoch, int32_t seq, int count,
                                   int64_t *dup_base, int64_t *dup_time)
{
    uint8_t buf[BATCH_CAP];
    size_t len = build(buf, pid, epoch, seq, count, TS0);
    sl_record_batch_t b;
    assert_int_equal(sl_record_batch_parse(buf, len, &b), 0);
    return sl_log_producer_check(e->log, &b, dup_base, dup_time);
}

static void on_append(sl_log_append_t *req, int status, void *data)
{
    (void)req; /* the app_t carries everything */
    app_t *a = data;
    a->status = status;
    a->done = true;
}

/* Submits a batch (sync on ack as configured); returns its base offset. run: wait for it. */
static int64_t submit(env_t *e, int64_t pid, int16_t epoch, int32_t seq, int count, int64_t ts,
                      bool wait_for_sync, bool run)
{
    assert_true(e->apps_used < APPENDS_MAX);
    app_t *a = &e->apps[e->apps_used++];
    a->len = build(a->buf, pid, epoch, seq, count, ts);
    int64_t base = -1;
    assert_int_equal(
        sl_log_append(e->log, &a->req, a->buf, a->len, 0, wait_for_sync, on_append, a, &base, NULL),
        0);
    if (run) {
        sim_disk_run(e->sim);
        assert_true(a->done);
        assert_int_equal(a->status, 0);
    }
    return base;
}

static int64_t append(env_t *e, int64_t pid, int16_t epoch, int32_t seq, int count, int64_t ts)
{
    assert_int_equal(check(e, pid, epoch, seq, count, NULL, NULL), SL_PRODUCER_OK);
    return submit(e, pid, epoch, seq, count, ts, true, true);
}

/* The producer's info; false when it has no state. */
static bool info_of(env_t *e, int64_t pid, sl_producer_info_t *out)
{
    sl_producer_info_t all[16];
    size_t n = sl_log_producers(e->log, all, 16);
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        if (all[i].producer_id == pid) {
            *out = all[i];
            assert_int_equal(out->current_txn_start_offset, -1);
            return true;
        }
    }
    return false;
}

static int32_t last_seq(env_t *e, int64_t pid)
{
    sl_producer_info_t info;
    return info_of(e, pid, &info) ? info.last_sequence : -100;
}

static bool file_exists(env_t *e, const char *path)
{
    size_t n;
    return sim_disk_file(e->sim, path, &n) != NULL;
}

static void test_sequence_rules(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    /* A producer without state starts at any sequence (Kafka 3.x, KIP-360). */
    assert_int_equal(check(&e, 7, 0, 42, 1, NULL, NULL), SL_PRODUCER_OK);
    int64_t bases[7];
    int32_t seq = 42;
    for (int i = 0; i < 7; i++) {
        bases[i] = append(&e, 7, 0, seq, 2, TS0 + 10 * i);
        seq += 2;
    }
    assert_int_equal(last_seq(&e, 7), 55);
    assert_int_equal(bases[6], 12);
    /* The next sequence; a gap; a sequence below. */
    assert_int_equal(check(&e, 7, 0, 56, 1, NULL, NULL), SL_PRODUCER_OK);
    assert_int_equal(check(&e, 7, 0, 57, 1, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    assert_int_equal(check(&e, 7, 0, 55, 1, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    /* Each of the last five batches is a duplicate, answered with its base offset and time. */
    for (int i = 2; i < 7; i++) {
        int64_t base = -1, time = -1;
        assert_int_equal(check(&e, 7, 0, 42 + 2 * i, 2, &base, &time), SL_PRODUCER_DUPLICATE);
        assert_int_equal(base, bases[i]);
        assert_int_equal(time, TS0 + 10 * i + 1); /* the batch's MaxTimestamp */
    }
    /* Older than the five kept: out of order; a different range over kept ones too. */
    assert_int_equal(check(&e, 7, 0, 42, 2, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    assert_int_equal(check(&e, 7, 0, 44, 2, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    assert_int_equal(check(&e, 7, 0, 52, 1, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    assert_int_equal(check(&e, 7, 0, 52, 4, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    /* The state did not change through the checks. */
    assert_int_equal(last_seq(&e, 7), 55);
    assert_int_equal(sl_log_end_offset(e.log), 14);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_wrap_around(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    /* A batch ending exactly at INT32_MAX: the next starts at 0. */
    append(&e, 1, 3, INT32_MAX - 1, 2, TS0);
    assert_int_equal(last_seq(&e, 1), INT32_MAX);
    assert_int_equal(check(&e, 1, 3, INT32_MAX, 1, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    assert_int_equal(check(&e, 1, 3, 1, 1, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    append(&e, 1, 3, 0, 1, TS0);
    assert_int_equal(last_seq(&e, 1), 0);
    /* A batch that wraps inside itself: INT32_MAX - 1, INT32_MAX, 0, 1. */
    append(&e, 2, 0, INT32_MAX - 1, 4, TS0);
    assert_int_equal(last_seq(&e, 2), 1);
    assert_int_equal(check(&e, 2, 0, 2, 1, NULL, NULL), SL_PRODUCER_OK);
    int64_t base = -1;
    assert_int_equal(check(&e, 2, 0, INT32_MAX - 1, 4, &base, NULL), SL_PRODUCER_DUPLICATE);
    assert_int_equal(base, 3);
    assert_int_equal(check(&e, 2, 0, INT32_MAX - 1, 3, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    /* The wrapped range survives a snapshot (first sequence derived from last - delta). */
    env_close(&e);
    env_open(&e);
    assert_int_equal(check(&e, 2, 0, INT32_MAX - 1, 4, &base, NULL), SL_PRODUCER_DUPLICATE);
    assert_int_equal(base, 3);
    assert_int_equal(check(&e, 1, 3, 0, 1, &base, NULL), SL_PRODUCER_DUPLICATE);
    assert_int_equal(base, 2);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_epochs(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    append(&e, 9, 5, 0, 1, TS0);
    append(&e, 9, 5, 1, 1, TS0);
    /* A bump must start at sequence 0. */
    assert_int_equal(check(&e, 9, 6, 2, 1, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    assert_int_equal(check(&e, 9, 6, 0, 1, NULL, NULL), SL_PRODUCER_OK);
    /* Older epochs are fenced; an older epoch's retry is not a duplicate once bumped. */
    assert_int_equal(check(&e, 9, 4, 2, 1, NULL, NULL), SL_PRODUCER_INVALID_EPOCH);
    append(&e, 9, 6, 0, 3, TS0);
    sl_producer_info_t info;
    assert_true(info_of(&e, 9, &info));
    assert_int_equal(info.producer_epoch, 6);
    assert_int_equal(info.last_sequence, 2);
    assert_int_equal(check(&e, 9, 5, 1, 1, NULL, NULL), SL_PRODUCER_INVALID_EPOCH);
    assert_int_equal(check(&e, 9, 5, 0, 1, NULL, NULL), SL_PRODUCER_INVALID_EPOCH);
    int64_t base = -1;
    assert_int_equal(check(&e, 9, 6, 0, 3, &base, NULL), SL_PRODUCER_DUPLICATE);
    assert_int_equal(base, 2);
    assert_int_equal(check(&e, 9, 6, 3, 1, NULL, NULL), SL_PRODUCER_OK);
    /* A jump of several epochs is a bump like any other. */
    assert_int_equal(check(&e, 9, 100, 0, 1, NULL, NULL), SL_PRODUCER_OK);
    assert_int_equal(check(&e, 9, 100, 3, 1, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_interleaved_and_in_flight(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    for (int round = 0; round < 4; round++) {
        for (int64_t pid = 100; pid < 105; pid++)
            append(&e, pid, (int16_t)(pid - 100), round * 3, 3, TS0 + round);
    }
    for (int64_t pid = 100; pid < 105; pid++) {
        assert_int_equal(last_seq(&e, pid), 11);
        assert_int_equal(check(&e, pid, (int16_t)(pid - 100), 12, 1, NULL, NULL), SL_PRODUCER_OK);
    }
    sl_producer_info_t few[2];
    assert_int_equal(sl_log_producers(e.log, few, 2), 5);
    assert_int_equal(sl_log_producers(e.log, NULL, 0), 5);
    /* Submitted, not yet written: a retry is already a duplicate of it. */
    int64_t base = submit(&e, 100, 0, 12, 2, TS0, true, false);
    assert_false(e.apps[e.apps_used - 1].done);
    int64_t dup = -1;
    assert_int_equal(check(&e, 100, 0, 12, 2, &dup, NULL), SL_PRODUCER_DUPLICATE);
    assert_int_equal(dup, base);
    assert_int_equal(check(&e, 100, 0, 14, 1, NULL, NULL), SL_PRODUCER_OK);
    assert_true(sl_log_high_watermark(e.log) <= dup);
    sim_disk_run(e.sim);
    assert_true(e.apps[e.apps_used - 1].done);
    assert_true(sl_log_high_watermark(e.log) > dup);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_expiry(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    append(&e, 1, 0, 0, 1, TS0);
    append(&e, 2, 0, 0, 1, TS0 + 5000);
    sl_log_producers_expire(e.log, TS0 + 9999, 10000); /* 1 is 1 ms short of expiring */
    assert_int_equal(sl_log_producers(e.log, NULL, 0), 2);
    sl_log_producers_expire(e.log, TS0 + 10000, 10000); /* Kafka: now - last timestamp >= expiry */
    assert_int_equal(sl_log_producers(e.log, NULL, 0), 1);
    assert_int_equal(last_seq(&e, 1), -100);
    assert_int_equal(last_seq(&e, 2), 0);
    /* The expired producer's next batch is accepted at whatever sequence it has reached. */
    assert_int_equal(check(&e, 1, 0, 57, 1, NULL, NULL), SL_PRODUCER_OK);
    append(&e, 1, 0, 57, 1, TS0 + 20000);
    assert_int_equal(last_seq(&e, 1), 57);
    sl_log_producers_expire(e.log, TS0 + 1000000, 10000);
    assert_int_equal(sl_log_producers(e.log, NULL, 0), 0);
    /* Many producers expiring at once (removal shifts entries back; none may be skipped). */
    for (int64_t pid = 0; pid < 40; pid++)
        append(&e, 1000 + pid * 7919, 0, 0, 1, pid % 2 ? TS0 : TS0 + 100000);
    sl_log_producers_expire(e.log, TS0 + 50000, 10000);
    assert_int_equal(sl_log_producers(e.log, NULL, 0), 20);
    sl_log_producers_expire(e.log, TS0 + 500000, 10000);
    assert_int_equal(sl_log_producers(e.log, NULL, 0), 0);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_snapshot_codec(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    append(&e, 5, 2, 10, 3, TS0);
    append(&e, 6, 0, 0, 1, TS0 + 1);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl__producer_snapshot_encode(&e.log->producers, &b), 0);
    assert_int_equal(b.len, 10 + 2 * 46);
    assert_int_equal(b.ptr[0], 0);
    assert_int_equal(b.ptr[1], 1); /* version 1 */
    assert_int_equal(sl__be32(b.ptr + 2), sl_crc32c(0, b.ptr + 6, b.len - 6));
    assert_int_equal(sl__be32(b.ptr + 6), 2);
    sl_producer_table_t t = {0};
    assert_int_equal(sl__producer_snapshot_decode(b.ptr, b.len, &t), 0);
    assert_int_equal(t.count, 2);
    for (size_t i = 0; i < t.cap; i++) {
        if (t.slots[i].producer_id != 5)
            continue;
        assert_int_equal(t.slots[i].epoch, 2);
        assert_int_equal(t.slots[i].batch_count, 1);
        assert_int_equal(t.slots[i].batches[0].first_seq, 10);
        assert_int_equal(t.slots[i].batches[0].last_seq, 12);
        assert_int_equal(t.slots[i].batches[0].last_offset, 2);
        assert_int_equal(t.slots[i].last_timestamp, TS0 + 2);
    }
    sl__producer_table_deinit(&t);
    /* Any flipped bit, a short file, another version: corrupt. */
    for (size_t pos = 0; pos < b.len; pos += 7) {
        b.ptr[pos] ^= 0x10;
        assert_int_equal(sl__producer_snapshot_decode(b.ptr, b.len, &t), SL_ECORRUPT);
        b.ptr[pos] ^= 0x10;
    }
    assert_int_equal(sl__producer_snapshot_decode(b.ptr, b.len - 1, &t), SL_ECORRUPT);
    assert_int_equal(sl__producer_snapshot_decode(b.ptr, 9, &t), SL_ECORRUPT);
    assert_int_equal(t.count, 0);
    sl_buf_deinit(&b);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

/* Appends a fixed history from three producers; returns the log end offset. */
static int64_t history(env_t *e)
{
    for (int i = 0; i < 6; i++) {
        append(e, 11, 0, i * 2, 2, TS0 + i);
        if (i % 2 == 0)
            append(e, 12, 1, i / 2, 1, TS0 + 100 + i);
    }
    append(e, 13, 0, 500, 1, TS0 + 200);
    return sl_log_end_offset(e->log);
}

static void expect_history_state(env_t *e)
{
    sl_producer_info_t info;
    assert_int_equal(sl_log_producers(e->log, NULL, 0), 3);
    assert_true(info_of(e, 11, &info));
    assert_int_equal(info.last_sequence, 11);
    assert_int_equal(info.last_timestamp, TS0 + 6);
    assert_true(info_of(e, 12, &info));
    assert_int_equal(info.producer_epoch, 1);
    assert_int_equal(info.last_sequence, 2);
    assert_true(info_of(e, 13, &info));
    assert_int_equal(info.last_sequence, 500);
    int64_t base = -1;
    assert_int_equal(check(e, 11, 0, 10, 2, &base, NULL), SL_PRODUCER_DUPLICATE);
    assert_int_equal(base, 13);
    assert_int_equal(check(e, 11, 0, 12, 1, NULL, NULL), SL_PRODUCER_OK);
    assert_int_equal(check(e, 12, 1, 3, 1, NULL, NULL), SL_PRODUCER_OK);
}

static void test_clean_close_snapshot_and_replay(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    int64_t end = history(&e);
    assert_int_equal(end, 16);
    env_close(&e);
    assert_true(file_exists(&e, DIR "/00000000000000000016.snapshot"));
    env_open(&e);
    expect_history_state(&e);
    /* From a snapshot only the last batch is known (Kafka keeps one per producer there). */
    assert_int_equal(check(&e, 11, 0, 8, 2, NULL, NULL), SL_PRODUCER_OUT_OF_ORDER);
    /* Appends after the snapshot are replayed from the batch headers after a crash. */
    append(&e, 11, 0, 12, 2, TS0 + 50);
    append(&e, 14, 0, 0, 1, TS0 + 60);
    sim_disk_t *crashed = sim_disk_crash(e.sim, 0, 1);
    env_close(&e);
    sim_disk_destroy(e.sim);
    env_t c = {.sim = crashed, .cfg = e.cfg};
    env_open(&c);
    assert_int_equal(sl_log_producers(c.log, NULL, 0), 4);
    assert_int_equal(last_seq(&c, 11), 13);
    assert_int_equal(last_seq(&c, 14), 0);
    int64_t base = -1;
    assert_int_equal(check(&c, 11, 0, 10, 2, &base, NULL), SL_PRODUCER_DUPLICATE);
    assert_int_equal(base, 13);
    env_close(&c);
    sim_disk_destroy(c.sim);
}

static void test_rebuild_without_or_with_bad_snapshot(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    history(&e);
    /* A crash: no snapshot was ever written; recovery rebuilds the same state by scanning. */
    sim_disk_t *crashed = sim_disk_crash(e.sim, 0, 1);
    env_close(&e);
    sim_disk_destroy(e.sim);
    env_t c = {.sim = crashed, .cfg = e.cfg};
    env_open(&c);
    assert_false(file_exists(&c, DIR "/00000000000000000016.snapshot"));
    expect_history_state(&c);
    /* A damaged snapshot is ignored and deleted; the state is rebuilt instead. */
    env_close(&c);
    assert_true(file_exists(&c, DIR "/00000000000000000016.snapshot"));
    assert_int_equal(sim_disk_corrupt(c.sim, DIR "/00000000000000000016.snapshot", 20, 0x01), 0);
    env_open(&c);
    assert_false(file_exists(&c, DIR "/00000000000000000016.snapshot"));
    expect_history_state(&c);
    env_close(&c);
    sim_disk_destroy(c.sim);
}

static void test_torn_tail_drops_cut_batches(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    e.cfg = (sl_log_config_t){0};
    sl_log_config_default(&e.cfg);
    e.cfg.sync_on_ack = false;
    env_open(&e);
    submit(&e, 3, 0, 0, 2, TS0, true, true);
    submit(&e, 3, 0, 2, 2, TS0, true, true);
    submit(&e, 3, 0, 4, 2, TS0, false, true); /* written, not synced */
    submit(&e, 4, 0, 0, 1, TS0, false, true);
    assert_int_equal(last_seq(&e, 3), 5);
    /* Power loss: the third batch survives whole, the fourth is torn. */
    sim_disk_t *crashed = sim_disk_crash(e.sim, (int64_t)e.apps[2].len + 10, 1);
    env_close(&e);
    sim_disk_destroy(e.sim);
    env_t c = {.sim = crashed, .cfg = e.cfg};
    env_open(&c);
    assert_int_equal(sl_log_end_offset(c.log), 6);
    assert_int_equal(last_seq(&c, 3), 5);
    assert_int_equal(last_seq(&c, 4), -100);
    assert_int_equal(check(&c, 4, 0, 0, 1, NULL, NULL), SL_PRODUCER_OK);
    env_close(&c);
    sim_disk_destroy(c.sim);
}

static void test_roll_snapshot_above_end_is_deleted(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    uint8_t tmp[BATCH_CAP];
    sl_log_config_default(&e.cfg);
    e.cfg.segment_bytes = (int64_t)(2 * build(tmp, 1, 0, 0, 1, TS0));
    e.cfg.retention_ms = -1;
    env_open(&e);
    append(&e, 1, 0, 0, 1, TS0);
    submit(&e, 1, 0, 1, 1, TS0, true, false); /* never written */
    submit(&e, 1, 0, 2, 1, TS0, true, false); /* rolls: snapshot at 2 holds seq 1 */
    assert_true(file_exists(&e, DIR "/00000000000000000002.snapshot"));
    assert_int_equal(last_seq(&e, 1), 2);
    sim_disk_t *crashed = sim_disk_crash(e.sim, 0, 1);
    env_close(&e);
    sim_disk_destroy(e.sim);
    env_t c = {.sim = crashed, .cfg = e.cfg};
    env_open(&c);
    assert_int_equal(sl_log_end_offset(c.log), 1);
    assert_false(file_exists(&c, DIR "/00000000000000000002.snapshot"));
    assert_int_equal(last_seq(&c, 1), 0);
    assert_int_equal(check(&c, 1, 0, 1, 1, NULL, NULL), SL_PRODUCER_OK);
    env_close(&c);
    sim_disk_destroy(c.sim);
}

static void test_retention_keeps_snapshots_consistent(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    uint8_t tmp[BATCH_CAP];
    sl_log_config_default(&e.cfg);
    e.cfg.segment_bytes = (int64_t)(2 * build(tmp, 1, 0, 0, 1, TS0));
    e.cfg.retention_ms = -1;
    env_open(&e);
    append(&e, 21, 0, 0, 1, TS0); /* only in the first segment */
    for (int i = 0; i < 8; i++)
        append(&e, 22, 0, i, 1, TS0 + i); /* segments [0,1] [2,3] [4,5] [6,7] [8] */
    assert_int_equal(e.log->seg_count, 5);
    assert_int_equal(e.log->snapshot_count, 4); /* at 2, 4, 6, 8 */
    assert_true(file_exists(&e, DIR "/00000000000000000004.snapshot"));
    assert_int_equal(sl_log_delete_records(e.log, 5), 0); /* [0,1] and [2,3] go */
    assert_int_equal(e.log->seg_count, 3);
    assert_false(file_exists(&e, DIR "/00000000000000000002.snapshot"));
    assert_true(file_exists(&e, DIR "/00000000000000000004.snapshot"));
    /* Kafka 3.x keeps producers in memory when their batches are deleted. */
    assert_int_equal(last_seq(&e, 21), 0);
    assert_int_equal(check(&e, 21, 0, 1, 1, NULL, NULL), SL_PRODUCER_OK);
    /* Up to the end: only the active segment is left, and the newest snapshot stays. */
    assert_int_equal(sl_log_delete_records(e.log, 9), 0);
    assert_int_equal(e.log->seg_count, 1);
    assert_int_equal(e.log->snapshot_count, 1);
    assert_true(file_exists(&e, DIR "/00000000000000000008.snapshot"));
    assert_int_equal(last_seq(&e, 22), 7);
    /* A clean restart: the snapshot at the start (8 <= 9) is dropped, as Kafka does; producers
     * whose batches are all gone are gone, and are accepted again at any sequence. */
    env_close(&e);
    env_open(&e);
    assert_int_equal(sl_log_start_offset(e.log), 9);
    assert_int_equal(sl_log_producers(e.log, NULL, 0), 0);
    assert_false(file_exists(&e, DIR "/00000000000000000008.snapshot"));
    assert_int_equal(check(&e, 22, 0, 8, 1, NULL, NULL), SL_PRODUCER_OK);
    append(&e, 22, 0, 8, 1, TS0 + 9);
    env_close(&e);
    assert_true(file_exists(&e, DIR "/00000000000000000010.snapshot"));
    env_open(&e);
    assert_int_equal(last_seq(&e, 22), 8);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_log_append_time_duplicate(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    sl_log_config_default(&e.cfg);
    e.cfg.log_append_time = true;
    env_open(&e);
    sim_clock_advance(&e.clock, 777);
    append(&e, 8, 0, 0, 3, 5);
    int64_t base = -1, time = -1;
    assert_int_equal(check(&e, 8, 0, 0, 3, &base, &time), SL_PRODUCER_DUPLICATE);
    assert_int_equal(base, 0);
    assert_int_equal(time, TS0 + 777);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

int main(void)
{
    sl_log_configure(SL_LOG_ERROR, SL_LOG_FORMAT_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_rules),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_epochs),
        cmocka_unit_test(test_interleaved_and_in_flight),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_snapshot_codec),
        cmocka_unit_test(test_clean_close_snapshot_and_replay),
        cmocka_unit_test(test_rebuild_without_or_with_bad_snapshot),
        cmocka_unit_test(test_torn_tail_drops_cut_batches),
        cmocka_unit_test(test_roll_snapshot_above_end_is_deleted),
        cmocka_unit_test(test_retention_keeps_snapshots_consistent),
        cmocka_unit_test(test_log_append_time_duplicate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
