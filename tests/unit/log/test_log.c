/* test_log: the log store on sim_disk with a hand-driven clock: appends and reads with real v2
 * batches, rolls, indexes, group commit, offline on errors, retention, and crash recovery (torn
 * tails at every byte, corruption, clean marker, metadata files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "batch_builder.h"
#include "log/log_int.h"
#include "sim_disk.h"
#include "sluice/records.h"

#define BATCH_CAP 8192

typedef struct {
    sim_disk_t *sim;
    sim_clock_t clock;
    sl_log_dir_t *dir;
} env_t;

typedef struct {
    sl_log_append_t req;
    uint8_t buf[BATCH_CAP];
    size_t len;
    int status;
    bool done;
    int order;
    int64_t base;
} app_t;

static int order_counter;

static sl_uuid_t topic_id = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

static void env_open(env_t *e, sim_disk_t *sim)
{
    e->sim = sim;
    if (sim_disk_seam(sim).ops->exists(&(sl_disk_t){sim_disk_seam(sim).ops, sim}, "/data") == 0) {
        sl_disk_t d = sim_disk_seam(sim);
        assert_int_equal(d.ops->mkdir(&d, "/data"), 0);
    }
    if (e->clock.ops.data == NULL)
        sim_clock_init(&e->clock, 1700000000000);
    assert_int_equal(sl_log_dir_open("/data", sim_disk_seam(sim), &e->clock.ops, &e->dir), 0);
}

/* Appends whose result the test ignores; freed once the dir is closed. */
static app_t *tracked[256];
static size_t tracked_count;
static void track(app_t *a)
{
    assert_true(tracked_count < 256);
    tracked[tracked_count++] = a;
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
    assert_false(closed);
    sim_disk_run(e->sim);
    assert_true(closed);
    e->dir = NULL;
    while (tracked_count > 0)
        free(tracked[--tracked_count]);
}

static void cfg_default(sl_log_config_t *cfg)
{
    sl_log_config_default(cfg);
    cfg->index_interval_bytes = 100;
}

static sl_log_t *open_log(env_t *e, const char *topic, int32_t part, const sl_log_config_t *cfg)
{
    sl_log_t *log = NULL;
    assert_int_equal(sl_log_open(e->dir, topic, part, &topic_id, cfg, &log), 0);
    return log;
}

static void on_append(sl_log_append_t *req, int status, void *data)
{
    (void)req; /* the app_t carries everything */
    app_t *a = data;
    assert_false(a->done);
    a->status = status;
    a->done = true;
    a->order = ++order_counter;
}

static app_t *append(sl_log_t *log, int records, int64_t ts, size_t value_len, bool wait_sync)
{
    app_t *a = calloc(1, sizeof *a);
    a->len = batch_build(a->buf, sizeof a->buf, records, ts, value_len, (uint8_t)(ts & 0xff));
    assert_true(a->len > 0);
    int rc =
        sl_log_append(log, &a->req, a->buf, a->len, 5, wait_sync, on_append, a, &a->base, NULL);
    assert_int_equal(rc, 0);
    return a;
}

typedef struct {
    bool done;
    int status;
    uint8_t *bytes;
    size_t len;
    int64_t offset, timestamp;
} res_t;

static void on_read(sl_log_read_t *req, int status, uint8_t *bytes, size_t len, void *data)
{
    (void)req; /* result in data */
    res_t *r = data;
    r->done = true;
    r->status = status;
    r->bytes = bytes;
    r->len = len;
}

static res_t read_log(env_t *e, sl_log_t *log, int64_t offset, size_t max_bytes, bool min_one)
{
    sl_log_read_t req;
    res_t r = {0};
    int rc = sl_log_read(log, &req, offset, max_bytes, min_one, on_read, &r);
    if (rc != 0) {
        r.status = rc;
        return r;
    }
    assert_false(r.done);
    sim_disk_run(e->sim);
    assert_true(r.done);
    return r;
}

static void on_lookup(sl_log_lookup_t *req, int status, int64_t offset, int64_t ts, void *data)
{
    (void)req; /* result in data */
    res_t *r = data;
    r->done = true;
    r->status = status;
    r->offset = offset;
    r->timestamp = ts;
}

static res_t lookup(env_t *e, sl_log_t *log, int64_t ts)
{
    sl_log_lookup_t req;
    res_t r = {0};
    assert_int_equal(sl_log_offset_for_timestamp(log, &req, ts, on_lookup, &r), 0);
    assert_false(r.done);
    sim_disk_run(e->sim);
    assert_true(r.done);
    return r;
}

static res_t lookup_max(env_t *e, sl_log_t *log)
{
    sl_log_lookup_t req;
    res_t r = {0};
    assert_int_equal(sl_log_offset_for_max_timestamp(log, &req, on_lookup, &r), 0);
    assert_false(r.done);
    sim_disk_run(e->sim);
    assert_true(r.done);
    return r;
}

static int64_t be64_at(const uint8_t *p)
{
    return sl__be64(p);
}

/* Counts the batches in bytes and checks each one's CRC. */
static int count_batches(const uint8_t *p, size_t len)
{
    int n = 0;
    size_t pos = 0;
    sl_batch_info_t info;
    while (pos < len) {
        assert_int_equal(sl__batch_check(p + pos, len - pos, true, &info), 0);
        pos += (size_t)info.batch_bytes;
        n++;
    }
    assert_int_equal(pos, len);
    return n;
}

/* ---- tests ---- */

static void test_append_read_roundtrip(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "orders", 0, &cfg);
    app_t *a[3];
    for (int i = 0; i < 3; i++)
        a[i] = append(log, 2, 1000 + i * 10, 20, true);
    assert_int_equal(sl_log_end_offset(log), 6);
    assert_int_equal(sl_log_high_watermark(log), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a[i]->base, i * 2);
        assert_int_equal(be64_at(a[i]->buf), i * 2);   /* patched in place */
        assert_int_equal(sl__be32(a[i]->buf + 12), 5); /* leader epoch */
        assert_false(a[i]->done);
    }
    sim_disk_run(e.sim);
    for (int i = 0; i < 3; i++) {
        assert_true(a[i]->done);
        assert_int_equal(a[i]->status, 0);
        assert_int_equal(a[i]->order, order_counter - 2 + i);
    }
    assert_int_equal(sl_log_high_watermark(log), 6);
    res_t r = read_log(&e, log, 0, 1 << 20, true);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.len, a[0]->len + a[1]->len + a[2]->len);
    assert_memory_equal(r.bytes, a[0]->buf, a[0]->len);
    assert_memory_equal(r.bytes + a[0]->len, a[1]->buf, a[1]->len);
    assert_int_equal(count_batches(r.bytes, r.len), 3);
    sl_free(r.bytes);
    r = read_log(&e, log, 3, 1 << 20, true); /* inside the second batch */
    assert_int_equal(r.len, a[1]->len + a[2]->len);
    assert_int_equal(be64_at(r.bytes), 2);
    sl_free(r.bytes);
    r = read_log(&e, log, 6, 1 << 20, true); /* at the high watermark: empty */
    assert_int_equal(r.status, 0);
    assert_int_equal(r.len, 0);
    assert_null(r.bytes);
    assert_int_equal(read_log(&e, log, 7, 100, true).status, SL_LOG_EOUTOFRANGE);
    assert_int_equal(read_log(&e, log, -1, 100, true).status, SL_LOG_EOUTOFRANGE);
    for (int i = 0; i < 3; i++)
        free(a[i]);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static int hw_calls;
static void on_hw(sl_log_t *log, void *data)
{
    (void)log; /* counted only */
    (void)data;
    hw_calls++;
}

static void test_high_watermark_bounds_reads(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "t", 0, &cfg);
    sl_log_set_hw_listener(log, on_hw, NULL);
    hw_calls = 0;
    app_t *a = append(log, 1, 1, 10, false); /* acks=1: completes on write, visible on sync */
    assert_true(sim_disk_run_at(e.sim, 0));  /* the write only */
    assert_true(a->done);
    assert_int_equal(sl_log_high_watermark(log), 0);
    assert_int_equal(hw_calls, 0);
    res_t r = read_log(&e, log, 0, 1000, true); /* runs the sync too */
    assert_int_equal(r.len, 0);
    assert_int_equal(sl_log_high_watermark(log), 1);
    assert_int_equal(hw_calls, 1);
    free(a);
    /* Interval policy: visible once written. */
    cfg.sync_on_ack = false;
    sl_log_set_config(log, &cfg);
    uint64_t syncs = sim_disk_fdatasync_count(e.sim);
    a = append(log, 1, 2, 10, false);
    sim_disk_run(e.sim);
    assert_int_equal(sl_log_high_watermark(log), 2);
    assert_int_equal(sim_disk_fdatasync_count(e.sim), syncs);
    free(a);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_roll_by_bytes_time_and_index(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    uint8_t tmp[BATCH_CAP];
    size_t blen = batch_build(tmp, sizeof tmp, 1, 0, 50, 0);
    cfg.segment_bytes = (int64_t)(3 * blen);
    sl_log_t *log = open_log(&e, "roll", 0, &cfg);
    for (int i = 0; i < 7; i++)
        track(append(log, 1, i, 50, true));
    sim_disk_run(e.sim);
    assert_int_equal(log->seg_count, 3); /* 3 + 3 + 1 */
    assert_int_equal(log->segs[1]->base_offset, 3);
    assert_int_equal(log->segs[2]->base_offset, 6);
    size_t n;
    assert_non_null(sim_disk_file(e.sim, "/data/roll-0/00000000000000000003.log", &n));
    assert_int_equal(n, 3 * blen);
    /* The rolled, synced segments have their index files. */
    assert_non_null(sim_disk_file(e.sim, "/data/roll-0/00000000000000000000.index", &n));
    assert_non_null(sim_disk_file(e.sim, "/data/roll-0/00000000000000000000.timeindex", &n));
    assert_true(n > 0 && n % 12 == 0);
    res_t r = read_log(&e, log, 4, 1 << 20, true); /* one segment per read */
    assert_int_equal(count_batches(r.bytes, r.len), 2);
    sl_free(r.bytes);

    /* By time. */
    cfg.segment_bytes = 1 << 20;
    cfg.segment_ms = 1000;
    sl_log_set_config(log, &cfg);
    track(append(log, 1, 7, 50, true));
    sim_disk_run(e.sim);
    assert_int_equal(log->seg_count, 3);
    sim_clock_advance(&e.clock, 1000);
    track(append(log, 1, 8, 50, true));
    sim_disk_run(e.sim);
    assert_int_equal(log->seg_count, 4);
    assert_int_equal(log->segs[3]->base_offset, 8);

    /* By a full index: interval 0 indexes every batch after the first; 3 entries fit. */
    cfg.segment_ms = 1000000;
    cfg.index_interval_bytes = 0;
    cfg.segment_index_bytes = 24;
    sl_log_set_config(log, &cfg);
    for (int i = 0; i < 5; i++)
        track(append(log, 1, 100 + i, 10, true));
    sim_disk_run(e.sim);
    assert_int_equal(log->seg_count, 5);
    assert_int_equal(log->segs[4]->base_offset, 11);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_index_and_time_lookups(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    cfg.index_interval_bytes = 150;
    sl_log_t *log = open_log(&e, "idx", 0, &cfg);
    for (int i = 0; i < 40; i++) /* 3 records each, timestamps 1000, 1010, ... */
        track(append(log, 3, 1000 + i * 10, 40, true));
    sim_disk_run(e.sim);
    assert_true(log->segs[0]->oidx_count > 5);
    for (int64_t off = 0; off < 120; off++) {
        res_t r = read_log(&e, log, off, 1, true);
        assert_int_equal(count_batches(r.bytes, r.len), 1);
        assert_int_equal(be64_at(r.bytes), off / 3 * 3); /* the batch that holds off */
        sl_free(r.bytes);
    }
    /* Record j of batch i has timestamp 1000 + 10 i + j: lookups answer the exact record. */
    res_t r = lookup(&e, log, 1000);
    assert_int_equal(r.offset, 0);
    assert_int_equal(r.timestamp, 1000);
    r = lookup(&e, log, 1203); /* between batch 20 (1200-1202) and 21 (1210-1212) */
    assert_int_equal(r.offset, 63);
    assert_int_equal(r.timestamp, 1210);
    r = lookup(&e, log, 1212); /* the last record of batch 21, at a time index entry */
    assert_int_equal(r.offset, 65);
    assert_int_equal(r.timestamp, 1212);
    r = lookup(&e, log, 1001);
    assert_int_equal(r.offset, 1);
    r = lookup(&e, log, 5000);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.offset, -1);
    int64_t ts, off;
    sl_log_max_timestamp(log, &ts, &off); /* batch granularity, no I/O */
    assert_int_equal(ts, 1392);
    assert_int_equal(off, 117);
    r = lookup_max(&e, log); /* the record */
    assert_int_equal(r.offset, 119);
    assert_int_equal(r.timestamp, 1392);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_read_max_bytes(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "mb", 0, &cfg);
    app_t *a[4];
    for (int i = 0; i < 4; i++)
        a[i] = append(log, 1, i, 200, true);
    sim_disk_run(e.sim);
    size_t blen = a[0]->len;
    res_t r = read_log(&e, log, 0, blen * 2 + blen / 2, true);
    assert_int_equal(r.len, 2 * blen);
    sl_free(r.bytes);
    r = read_log(&e, log, 1, blen / 2, true); /* min_one_batch: a whole batch anyway */
    assert_int_equal(r.len, blen);
    assert_int_equal(be64_at(r.bytes), 1);
    sl_free(r.bytes);
    r = read_log(&e, log, 1, blen / 2, false);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.len, 0);
    for (int i = 0; i < 4; i++)
        free(a[i]);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_group_commit_across_partitions(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *p0 = open_log(&e, "g", 0, &cfg);
    sl_log_t *p1 = open_log(&e, "g", 1, &cfg);
    app_t *a[8];
    for (int i = 0; i < 8; i++)
        a[i] = append(i % 2 ? p1 : p0, 1, i, 10, true);
    uint64_t syncs = sim_disk_fdatasync_count(e.sim);
    /* Deliver the writes out of order: the last one first. */
    assert_true(sim_disk_run_at(e.sim, 7));
    assert_true(sim_disk_run_at(e.sim, 6));
    sim_disk_run(e.sim);
    /* One round: one fdatasync per partition's segment covered all eight. */
    assert_int_equal(sim_disk_fdatasync_count(e.sim) - syncs, 2);
    for (int i = 0; i < 8; i++) {
        assert_true(a[i]->done);
        assert_int_equal(a[i]->status, 0);
    }
    for (int i = 2; i < 8; i++) /* in offset order within each partition */
        assert_true(a[i]->order > a[i - 2]->order);
    assert_int_equal(sl_log_high_watermark(p0), 4);
    assert_int_equal(sl_log_high_watermark(p1), 4);
    for (int i = 0; i < 8; i++)
        free(a[i]);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_write_error_takes_dir_offline(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *p0 = open_log(&e, "w", 0, &cfg);
    sl_log_t *p1 = open_log(&e, "w", 1, &cfg);
    sim_disk_fail_write(e.sim, 2, -EIO);
    app_t *a0 = append(p0, 1, 1, 10, true);
    app_t *a1 = append(p0, 1, 2, 10, true);
    app_t *a2 = append(p1, 1, 3, 10, false);
    sim_disk_run(e.sim);
    assert_true(sl_log_dir_is_offline(e.dir));
    assert_int_equal(a1->status, -EIO);
    assert_int_equal(a0->status, -EIO); /* its sync never came: never acknowledged */
    assert_int_equal(a2->status, -EIO);
    assert_true(a0->order < a1->order);
    static app_t late;
    late.len = batch_build(late.buf, sizeof late.buf, 1, 1, 1, 0);
    assert_int_equal(
        sl_log_append(p0, &late.req, late.buf, late.len, 0, true, on_append, &late, NULL, NULL),
        -EIO);
    free(a0);
    free(a1);
    free(a2);
    env_close(&e);
    /* Offline: no clean-shutdown marker. */
    assert_int_equal(sim_disk_seam(e.sim).ops->exists(&(sl_disk_t){sim_disk_seam(e.sim).ops, e.sim},
                                                      "/data/.kafka_cleanshutdown"),
                     0);
    sim_disk_destroy(e.sim);
}

static void test_fsync_error_takes_dir_offline(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "f", 0, &cfg);
    app_t *ok = append(log, 1, 1, 10, true);
    sim_disk_run(e.sim);
    assert_int_equal(ok->status, 0);
    sim_disk_fail_fsync(e.sim, 1, -EIO);
    app_t *a = append(log, 1, 2, 10, true);
    sim_disk_run(e.sim);
    assert_int_equal(a->status, -EIO);
    assert_true(sl_log_dir_is_offline(e.dir));
    assert_int_equal(sl_log_high_watermark(log), 1); /* never moves past what was synced */
    uint64_t syncs = sim_disk_fdatasync_count(e.sim);
    static app_t late;
    late.len = batch_build(late.buf, sizeof late.buf, 1, 1, 1, 0);
    assert_int_equal(
        sl_log_append(log, &late.req, late.buf, late.len, 0, true, on_append, &late, NULL, NULL),
        -EIO);
    sim_disk_run(e.sim);
    assert_int_equal(sim_disk_fdatasync_count(e.sim), syncs); /* never retried */
    free(ok);
    free(a);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_retention_by_time_and_bytes(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    uint8_t tmp[BATCH_CAP];
    size_t blen = batch_build(tmp, sizeof tmp, 1, 0, 50, 0);
    cfg.segment_bytes = (int64_t)(2 * blen);
    sl_log_t *log = open_log(&e, "ret", 0, &cfg);
    for (int i = 0; i < 9; i++) /* segments [0,1] [2,3] [4,5] [6,7] [8] with ts 1000 + 100 i */
        track(append(log, 1, 1000 + i * 100, 50, true));
    sim_disk_run(e.sim);
    assert_int_equal(log->seg_count, 5);
    cfg.retention_ms = 1000;
    sl_log_set_config(log, &cfg);
    /* Segment 0's largest timestamp is 1100, segment 1's 1300. */
    assert_int_equal(sl_log_apply_retention(log, 2100), 0);
    assert_int_equal(sl_log_apply_retention(log, 2301), 2);
    assert_int_equal(sl_log_start_offset(log), 4);
    size_t n;
    assert_null(sim_disk_file(e.sim, "/data/ret-0/00000000000000000000.log", &n));
    assert_int_equal(read_log(&e, log, 3, 100, true).status, SL_LOG_EOUTOFRANGE);
    /* Everything is old: still never the active segment. */
    assert_int_equal(sl_log_apply_retention(log, 1000000), 2);
    assert_int_equal(log->seg_count, 1);
    assert_int_equal(sl_log_start_offset(log), 8);
    /* By bytes. */
    cfg.retention_ms = -1;
    cfg.retention_bytes = (int64_t)(3 * blen);
    sl_log_set_config(log, &cfg);
    for (int i = 0; i < 6; i++)
        track(append(log, 1, 5000, 50, true));
    sim_disk_run(e.sim);
    assert_int_equal(log->seg_count, 4); /* [8] ... wait: [8,9] [10,11] [12,13] [14] */
    assert_int_equal(sl_log_apply_retention(log, 0), 2);
    assert_int_equal(sl_log_start_offset(log), 12);
    res_t r = read_log(&e, log, 12, 1 << 20, true);
    assert_int_equal(count_batches(r.bytes, r.len), 2);
    sl_free(r.bytes);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

/* Writes `synced` acknowledged batches and one more whose write lands but is never synced. */
static sim_disk_t *crash_after_unsynced(size_t keep, size_t *last_len, app_t **acked, int synced)
{
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "c", 0, &cfg);
    for (int i = 0; i < synced; i++)
        acked[i] = append(log, 2, 100 + i, 30, true);
    sim_disk_run(e.sim);
    app_t *last = append(log, 3, 999, 40, false);
    assert_true(sim_disk_run_at(e.sim, 0)); /* written, not synced */
    *last_len = last->len;
    sim_disk_t *crashed = sim_disk_crash(e.sim, (int64_t)keep, 0);
    sim_disk_run(e.sim);
    env_close(&e);
    sim_disk_destroy(e.sim);
    free(last);
    return crashed;
}

/* The active segment's index files from a clean close must not survive it growing: after it
 * rolls and power fails before its new tail is synced, recovery must walk it and cut the torn
 * tail (and the later segment), not trust the old index and keep a torn batch. */
static void test_recovery_stale_index_of_rolled_segment(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    cfg.segment_bytes = 450; /* three of the small batches, not a fourth larger one */
    sl_log_t *log = open_log(&e, "s", 0, &cfg);
    app_t *acked[2] = {append(log, 2, 100, 30, true), append(log, 2, 101, 30, true)};
    sim_disk_run(e.sim);
    env_close(&e); /* clean: segment 0's index files are written */
    env_open(&e, e.sim);
    cfg.sync_on_ack = false; /* storage.sync.policy=interval: nothing syncs the new tail */
    log = open_log(&e, "s", 0, &cfg);
    app_t *torn = append(log, 2, 102, 30, false); /* segment 0 grows, never synced */
    app_t *next = append(log, 2, 103, 60, false); /* rolls to segment 6 */
    assert_int_equal(torn->base, 4);
    assert_int_equal(sl_log_segment_count(log), 2);
    assert_int_equal(sim_disk_run(e.sim), 2); /* both writes land; no fdatasync was asked */
    sim_disk_t *crashed = sim_disk_crash(e.sim, (int64_t)torn->len / 2, 0);
    sim_disk_run(e.sim);
    env_close(&e);
    sim_disk_destroy(e.sim);
    free(torn);
    free(next);

    env_open(&e, crashed);
    log = open_log(&e, "s", 0, &cfg);
    assert_int_equal(sl_log_end_offset(log), 4);
    assert_int_equal(sl_log_segment_count(log), 1);
    res_t r = read_log(&e, log, 0, 1 << 20, true);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_batches(r.bytes, r.len), 2);
    assert_memory_equal(r.bytes, acked[0]->buf, acked[0]->len);
    sl_free(r.bytes);
    env_close(&e);
    sim_disk_destroy(e.sim);
    free(acked[0]);
    free(acked[1]);
}

static void test_recovery_torn_tail_every_byte(void **state)
{
    (void)state; /* no fixture */
    size_t last_len = 0;
    app_t *acked[3];
    sim_disk_t *probe = crash_after_unsynced(0, &last_len, acked, 3);
    sim_disk_destroy(probe);
    for (int i = 0; i < 3; i++)
        free(acked[i]);
    for (size_t keep = 0; keep <= last_len; keep++) {
        env_t e = {0};
        sim_disk_t *sim = crash_after_unsynced(keep, &last_len, acked, 3);
        env_open(&e, sim);
        assert_false(sl_log_dir_was_clean(e.dir));
        sl_log_config_t cfg;
        cfg_default(&cfg);
        sl_log_t *log = open_log(&e, "c", 0, &cfg);
        int64_t want = keep == last_len ? 9 : 6;
        assert_int_equal(sl_log_end_offset(log), want);
        assert_int_equal(sl_log_high_watermark(log), want);
        res_t r = read_log(&e, log, 0, 1 << 20, true);
        assert_int_equal(count_batches(r.bytes, r.len), keep == last_len ? 4 : 3);
        size_t pos = 0;
        for (int i = 0; i < 3; i++) { /* every acknowledged batch, at its offset, intact */
            assert_memory_equal(r.bytes + pos, acked[i]->buf, acked[i]->len);
            pos += acked[i]->len;
            free(acked[i]);
        }
        sl_free(r.bytes);
        /* The log goes on from there. */
        app_t *a = append(log, 1, 5, 5, true);
        assert_int_equal(a->base, want);
        sim_disk_run(e.sim);
        assert_int_equal(a->status, 0);
        free(a);
        env_close(&e);
        sim_disk_destroy(sim);
    }
}

static void test_recovery_corrupt_middle_and_clean_marker(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "m", 0, &cfg);
    app_t *a[5];
    for (int i = 0; i < 5; i++)
        a[i] = append(log, 1, i, 30, true);
    sim_disk_run(e.sim);
    size_t pos3 = a[0]->len + a[1]->len + a[2]->len;
    const char *seg = "/data/m-0/00000000000000000000.log";

    /* Clean shutdown: the marker skips the scan, so even a corrupt byte stays (reads see it). */
    env_close(&e);
    assert_int_equal(sim_disk_corrupt(e.sim, seg, pos3 + 70, 0x40), 0);
    env_open(&e, e.sim);
    assert_true(sl_log_dir_was_clean(e.dir));
    log = open_log(&e, "m", 0, &cfg);
    assert_int_equal(sl_log_end_offset(log), 5);
    assert_int_equal(sl_log_close(log), 0);

    /* Unclean (the marker was taken at open): the scan cuts at the corrupt batch. */
    sim_disk_t *crashed = sim_disk_crash(e.sim, 0, 0);
    env_close(&e);
    sim_disk_destroy(e.sim);
    env_open(&e, crashed);
    assert_false(sl_log_dir_was_clean(e.dir));
    log = open_log(&e, "m", 0, &cfg);
    assert_int_equal(sl_log_end_offset(log), 3);
    size_t n;
    assert_non_null(sim_disk_file(e.sim, seg, &n));
    assert_int_equal(n, pos3);
    for (int i = 0; i < 5; i++)
        free(a[i]);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_reopen_keeps_offsets_epochs_metadata(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    uint8_t tmp[BATCH_CAP];
    cfg.segment_bytes = (int64_t)(2 * batch_build(tmp, sizeof tmp, 1, 0, 20, 0));
    sl_log_t *log = open_log(&e, "r", 3, &cfg);
    static app_t a;
    int32_t epochs[] = {1, 1, 4, 4, 7};
    for (int i = 0; i < 5; i++) {
        a.done = false;
        a.len = batch_build(a.buf, sizeof a.buf, 1, 100 + i, 20, 0);
        assert_int_equal(
            sl_log_append(log, &a.req, a.buf, a.len, epochs[i], true, on_append, &a, NULL, NULL),
            0);
        sim_disk_run(e.sim);
    }
    env_close(&e);
    size_t n;
    const uint8_t *text = sim_disk_file(e.sim, "/data/r-3/leader-epoch-checkpoint", &n);
    assert_non_null(text);
    assert_int_equal(n, strlen("0\n3\n1 0\n4 2\n7 4\n"));
    assert_memory_equal(text, "0\n3\n1 0\n4 2\n7 4\n", n);
    char id[23], want[64];
    sl_uuid_to_base64(&topic_id, id);
    snprintf(want, sizeof want, "version: 0\ntopic_id: %s\n", id);
    text = sim_disk_file(e.sim, "/data/r-3/partition.metadata", &n);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(text, want, n);
    assert_non_null(sim_disk_file(e.sim, "/data/.kafka_cleanshutdown", &n));

    env_open(&e, e.sim);
    assert_null(sim_disk_file(e.sim, "/data/.kafka_cleanshutdown", &n)); /* taken at open */
    log = open_log(&e, "r", 3, &cfg);
    assert_int_equal(sl_log_end_offset(log), 5);
    assert_int_equal(sl_log_start_offset(log), 0);
    assert_int_equal(log->seg_count, 3);
    assert_int_equal(log->epoch_count, 3);
    res_t r = lookup(&e, log, 103);
    assert_int_equal(r.offset, 3);
    /* Another topic id for the same directory is refused. */
    sl_uuid_t other = topic_id;
    other.bytes[0] ^= 1;
    sl_log_t *bad = NULL;
    assert_int_equal(sl_log_close(log), 0);
    assert_int_equal(sl_log_open(e.dir, "r", 3, &other, &cfg, &bad), SL_EEXISTS);
    log = open_log(&e, "r", 3, &cfg);
    assert_int_equal(sl_log_delete(log), 0);
    assert_int_equal(sim_disk_seam(e.sim).ops->exists(&(sl_disk_t){sim_disk_seam(e.sim).ops, e.sim},
                                                      "/data/r-3"),
                     0);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_log_append_time(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    cfg.log_append_time = true;
    sl_log_t *log = open_log(&e, "lat", 0, &cfg);
    static app_t a;
    int64_t t = 0;
    a.len = batch_build(a.buf, sizeof a.buf, 2, 5, 20, 0);
    assert_int_equal(sl_log_append(log, &a.req, a.buf, a.len, 0, true, on_append, &a, NULL, &t), 0);
    assert_int_equal(t, e.clock.realtime_ms);
    assert_int_equal(sl__be64(a.buf + SL_BATCH_OFF_MAX_TIMESTAMP), t);
    assert_true(a.buf[22] & SL_BATCH_ATTR_LOG_APPEND_TIME);
    sl_batch_info_t info;
    assert_int_equal(sl__batch_check(a.buf, a.len, true, &info), 0); /* CRC recomputed */
    sim_disk_run(e.sim);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_interval_policy_flushes(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    cfg.sync_on_ack = false;
    cfg.flush_interval_messages = 4;
    cfg.flush_interval_ms = 500;
    sl_log_t *log = open_log(&e, "iv", 0, &cfg);
    uint64_t syncs = sim_disk_fdatasync_count(e.sim);
    for (int i = 0; i < 3; i++)
        track(append(log, 1, i, 10, false));
    sim_disk_run(e.sim);
    assert_int_equal(sl_log_high_watermark(log), 3); /* visible once written */
    assert_int_equal(sim_disk_fdatasync_count(e.sim), syncs);
    track(append(log, 1, 3, 10, false)); /* the 4th message triggers a flush */
    sim_disk_run(e.sim);
    assert_int_equal(sim_disk_fdatasync_count(e.sim), syncs + 1);
    track(append(log, 1, 4, 10, false));
    sim_disk_run(e.sim);
    sl_log_dir_flush_tick(e.dir); /* too early */
    sim_disk_run(e.sim);
    assert_int_equal(sim_disk_fdatasync_count(e.sim), syncs + 1);
    sim_clock_advance(&e.clock, 500);
    sl_log_dir_flush_tick(e.dir);
    sim_disk_run(e.sim);
    assert_int_equal(sim_disk_fdatasync_count(e.sim), syncs + 2);
    assert_int_equal(log->synced_offset, 5);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_reopen_then_append_updates_indexes(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "ri", 0, &cfg);
    for (int i = 0; i < 5; i++)
        track(append(log, 1, 100 + i, 100, true));
    sim_disk_run(e.sim);
    env_close(&e);
    for (int round = 0; round < 2; round++) {
        env_open(&e, e.sim);
        log = open_log(&e, "ri", 0, &cfg);
        for (int i = 0; i < 5; i++)
            track(append(log, 1, 1000 * (round + 1) + i, 100, true));
        sim_disk_run(e.sim);
        env_close(&e);
    }
    env_open(&e, e.sim);
    log = open_log(&e, "ri", 0, &cfg);
    assert_int_equal(sl_log_end_offset(log), 15);
    res_t r = lookup(&e, log, 2003);
    assert_int_equal(r.offset, 13);
    r = lookup(&e, log, 1001);
    assert_int_equal(r.offset, 6);
    int64_t ts, off;
    sl_log_max_timestamp(log, &ts, &off);
    assert_int_equal(ts, 2004);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

/* ---- record-exact timestamp lookups (multi-record batches, every codec) ---- */

static size_t put_zigzag(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    return n;
}

/* Compresses in into out the way clients do (gzip framing, raw snappy, lz4 frame, zstd frame). */
static size_t compress_body(int codec, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    if (codec == SL_COMPRESSION_GZIP) {
        z_stream zs = {0};
        assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, 0), Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)len;
        zs.next_out = out;
        zs.avail_out = (uInt)cap;
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        size_t n = zs.total_out;
        deflateEnd(&zs);
        return n;
    }
    size_t n = cap;
    if (codec == SL_COMPRESSION_SNAPPY) {
        assert_int_equal(snappy_compress((const char *)in, len, (char *)out, &n), SNAPPY_OK);
    } else if (codec == SL_COMPRESSION_LZ4) {
        n = LZ4F_compressFrame(out, cap, in, len, NULL);
        assert_false(LZ4F_isError(n));
    } else {
        n = ZSTD_compress(out, cap, in, len, 3);
        assert_false(ZSTD_isError(n));
    }
    return n;
}

/* A client's batch: record i has timestamp base_ts + deltas[i], a null key and a value_len-byte
 * value; compressed with codec; CRC set. Returns an sl_malloc'd buffer. */
static uint8_t *ts_batch(const int64_t *deltas, int count, int64_t base_ts, size_t value_len,
                         int codec, size_t *len_out)
{
    size_t cap = 61 + (size_t)count * (value_len + 40) + 1024;
    uint8_t *body = sl_malloc(cap), *out = sl_malloc(cap);
    size_t n = 0;
    int64_t max = INT64_MIN;
    for (int i = 0; i < count; i++) {
        uint8_t rec[64];
        size_t r = 0;
        rec[r++] = 0;
        r += put_zigzag(rec + r, deltas[i]);
        r += put_zigzag(rec + r, i);
        r += put_zigzag(rec + r, -1);
        r += put_zigzag(rec + r, (int64_t)value_len);
        n += put_zigzag(body + n, (int64_t)(r + value_len + 1));
        memcpy(body + n, rec, r);
        memset(body + n + r, 'a' + i % 26, value_len);
        n += r + value_len;
        body[n++] = 0; /* no headers */
        max = SL_MAX(max, base_ts + deltas[i]);
    }
    size_t blen = codec == 0 ? n : compress_body(codec, body, n, out + 61, cap - 61);
    if (codec == 0)
        memcpy(out + 61, body, n);
    memset(out, 0, 61);
    sl__put_be32(out + SL_BATCH_OFF_LENGTH, (uint32_t)(61 + blen - 12));
    out[SL_BATCH_OFF_MAGIC] = 2;
    out[SL_BATCH_OFF_ATTRIBUTES + 1] = (uint8_t)codec;
    sl__put_be32(out + SL_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
    sl__put_be64(out + SL_BATCH_OFF_BASE_TIMESTAMP, base_ts);
    sl__put_be64(out + SL_BATCH_OFF_MAX_TIMESTAMP, max);
    sl__put_be64(out + 43, -1); /* producer id */
    sl__put_be32(out + 53, 0xffffffffu);
    sl__put_be32(out + SL_BATCH_OFF_RECORD_COUNT, (uint32_t)count);
    sl__put_be32(out + SL_BATCH_OFF_CRC, sl_crc32c(0, out + 21, 61 + blen - 21));
    sl_free(body);
    *len_out = 61 + blen;
    return out;
}

static void on_raw_append(sl_log_append_t *req, int status, void *data)
{
    (void)req; /* the status is all the test needs */
    *(int *)data = status;
}

/* Appends, runs the disk and frees the batch. */
static void append_raw(env_t *e, sl_log_t *log, uint8_t *batch, size_t len)
{
    sl_log_append_t req;
    int status = 1;
    assert_int_equal(
        sl_log_append(log, &req, batch, len, 5, true, on_raw_append, &status, NULL, NULL), 0);
    sim_disk_run(e->sim);
    assert_int_equal(status, 0);
    sl_free(batch);
}

static void expect(res_t r, int64_t offset, int64_t timestamp)
{
    assert_int_equal(r.status, 0);
    assert_int_equal(r.offset, offset);
    assert_int_equal(r.timestamp, timestamp);
}

static const int64_t deltas_a[5] = {0, 30, 10, 50, 20}; /* offsets 0-4: 1000 1030 1010 1050 1020 */
static const int64_t deltas_b[3] = {0, 5, 5};           /* offsets 5-7: 2000 2005 2005 */

static void test_exact_lookups_every_codec(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    for (int codec = SL_COMPRESSION_NONE; codec <= SL_COMPRESSION_ZSTD; codec++) {
        char topic[32];
        snprintf(topic, sizeof topic, "codec%d", codec);
        sl_log_t *log = open_log(&e, topic, 0, &cfg);
        size_t len;
        uint8_t *b = ts_batch(deltas_a, 5, 1000, 100, codec, &len);
        assert_int_equal(b[SL_BATCH_OFF_ATTRIBUTES + 1] & 7, codec);
        append_raw(&e, log, b, len);
        b = ts_batch(deltas_b, 3, 2000, 100, codec, &len);
        append_raw(&e, log, b, len);
        for (int pass = 0; pass < 2; pass++) { /* before and after a reopen (indexes loaded) */
            expect(lookup(&e, log, 0), 0, 1000);
            expect(lookup(&e, log, 1000), 0, 1000);
            expect(lookup(&e, log, 1001), 1, 1030); /* the first in offset order, not the nearest */
            expect(lookup(&e, log, 1031), 3, 1050);
            expect(lookup(&e, log, 1050), 3, 1050);
            expect(lookup(&e, log, 1051), 5, 2000);
            expect(lookup(&e, log, 2001), 6, 2005);
            expect(lookup(&e, log, 2006), -1, -1);
            expect(lookup_max(&e, log), 6, 2005); /* the first of the two records with the max */
            int64_t ts, off;
            sl_log_max_timestamp(log, &ts, &off);
            assert_int_equal(ts, 2005);
            assert_int_equal(off, 5);
            assert_int_equal(sl_log_close(log), 0);
            log = open_log(&e, topic, 0, &cfg);
        }
        assert_int_equal(sl_log_close(log), 0);
    }
    env_close(&e);
    sim_disk_destroy(e.sim);
}

/* A batch larger than the scan window is read whole before its records are looked at; the max
 * may sit in an earlier batch than the last. */
static void test_lookup_reads_whole_large_batch(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "big", 0, &cfg);
    int64_t deltas[90];
    for (int i = 0; i < 90; i++)
        deltas[i] = 2 * i; /* offsets 5-94: 200, 202, ..., 378 */
    size_t len;
    uint8_t *b;
    b = ts_batch(deltas_a, 5, 100, 10, 0, &len);
    append_raw(&e, log, b, len);
    uint8_t *big = ts_batch(deltas, 90, 200, 1000, 0, &len);
    assert_true(len > SL_LOG_SCAN_CHUNK_BYTES + (size_t)cfg.index_interval_bytes);
    append_raw(&e, log, big, len);
    b = ts_batch(deltas_b, 3, 300, 10, SL_COMPRESSION_ZSTD, &len);
    append_raw(&e, log, b, len);
    expect(lookup(&e, log, 251), 31, 252);
    expect(lookup(&e, log, 378), 94, 378);
    expect(lookup(&e, log, 151), 5, 200);
    expect(lookup_max(&e, log), 94, 378);
    assert_int_equal(sl_log_close(log), 0);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

/* LogAppendTime: every record has the batch's MaxTimestamp, so both lookups answer the base. */
static void test_exact_lookups_log_append_time(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    cfg.log_append_time = true;
    sl_log_t *log = open_log(&e, "lat2", 0, &cfg);
    size_t len;
    uint8_t *b;
    b = ts_batch(deltas_a, 5, 1000, 10, SL_COMPRESSION_GZIP, &len);
    append_raw(&e, log, b, len);
    int64_t now = e.clock.realtime_ms;
    expect(lookup(&e, log, 0), 0, now);
    expect(lookup(&e, log, now), 0, now);
    expect(lookup(&e, log, now + 1), -1, -1);
    expect(lookup_max(&e, log), 0, now);
    assert_int_equal(sl_log_close(log), 0);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

/* A batch whose bytes changed on disk is not decompressed: the lookup fails SL_ECORRUPT. Empty
 * logs answer -1. */
static void test_exact_lookup_corrupt_and_empty(void **state)
{
    (void)state; /* no fixture */
    env_t e = {0};
    env_open(&e, sim_disk_create());
    sl_log_config_t cfg;
    cfg_default(&cfg);
    sl_log_t *log = open_log(&e, "bad", 0, &cfg);
    expect(lookup(&e, log, 0), -1, -1);
    expect(lookup_max(&e, log), -1, -1);
    size_t len;
    uint8_t *b;
    b = ts_batch(deltas_a, 5, 1000, 10, SL_COMPRESSION_LZ4, &len);
    append_raw(&e, log, b, len);
    assert_int_equal(sim_disk_corrupt(e.sim, "/data/bad-0/00000000000000000000.log", 70, 0x5a), 0);
    res_t r = lookup(&e, log, 1001);
    assert_int_equal(r.status, SL_ECORRUPT);
    r = lookup_max(&e, log);
    assert_int_equal(r.status, SL_ECORRUPT);
    assert_int_equal(sl_log_close(log), 0);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

int main(void)
{
    sl_log_configure(SL_LOG_ERROR, SL_LOG_FORMAT_TEXT); /* torn-tail warnings are expected here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_read_roundtrip),
        cmocka_unit_test(test_high_watermark_bounds_reads),
        cmocka_unit_test(test_roll_by_bytes_time_and_index),
        cmocka_unit_test(test_index_and_time_lookups),
        cmocka_unit_test(test_read_max_bytes),
        cmocka_unit_test(test_group_commit_across_partitions),
        cmocka_unit_test(test_write_error_takes_dir_offline),
        cmocka_unit_test(test_fsync_error_takes_dir_offline),
        cmocka_unit_test(test_retention_by_time_and_bytes),
        cmocka_unit_test(test_recovery_torn_tail_every_byte),
        cmocka_unit_test(test_recovery_stale_index_of_rolled_segment),
        cmocka_unit_test(test_recovery_corrupt_middle_and_clean_marker),
        cmocka_unit_test(test_reopen_keeps_offsets_epochs_metadata),
        cmocka_unit_test(test_log_append_time),
        cmocka_unit_test(test_interval_policy_flushes),
        cmocka_unit_test(test_reopen_then_append_updates_indexes),
        cmocka_unit_test(test_exact_lookups_every_codec),
        cmocka_unit_test(test_lookup_reads_whole_large_batch),
        cmocka_unit_test(test_exact_lookups_log_append_time),
        cmocka_unit_test(test_exact_lookup_corrupt_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
