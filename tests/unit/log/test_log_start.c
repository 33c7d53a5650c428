/* test_log_start: sl_log_delete_records on sim_disk: the log start offset moves up only, never past
 * the high watermark; whole segments below it go (or wait for I/O in flight); reads below it are
 * out of range; the partition's log-start-offset-checkpoint keeps it across clean and unclean
 * restarts; retention never moves it back. */
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

#define BATCH_CAP 4096
#define APPENDS_MAX 64

typedef struct {
    sl_log_append_t req;
    uint8_t buf[BATCH_CAP];
    bool done;
    int status;
} app_t;

typedef struct {
    sim_disk_t *sim;
    sim_clock_t clock;
    sl_log_dir_t *dir;
    app_t apps[APPENDS_MAX];
    size_t apps_used;
} env_t;

static sl_uuid_t topic_id = {{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6}};

static void env_open(env_t *e)
{
    sl_disk_t d = sim_disk_seam(e->sim);
    if (d.ops->exists(&d, "/data") == 0)
        assert_int_equal(d.ops->mkdir(&d, "/data"), 0);
    if (e->clock.ops.data == NULL)
        sim_clock_init(&e->clock, 1700000000000);
    assert_int_equal(sl_log_dir_open("/data", d, &e->clock.ops, &e->dir), 0);
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
}

/* Segments of two one-record batches each; no time or size retention. */
static sl_log_config_t test_config(void)
{
    sl_log_config_t cfg;
    sl_log_config_default(&cfg);
    uint8_t tmp[BATCH_CAP];
    cfg.segment_bytes = (int64_t)(2 * batch_build(tmp, sizeof tmp, 1, 0, 40, 0));
    cfg.retention_ms = -1;
    cfg.retention_bytes = -1;
    return cfg;
}

static sl_log_t *open_log(env_t *e)
{
    sl_log_config_t cfg = test_config();
    sl_log_t *log = NULL;
    assert_int_equal(sl_log_open(e->dir, "ds", 0, &topic_id, &cfg, &log), 0);
    return log;
}

static void on_append(sl_log_append_t *req, int status, void *data)
{
    (void)req; /* the app_t carries everything */
    app_t *a = data;
    a->status = status;
    a->done = true;
}

/* Appends n one-record batches (timestamps 1000, 1100, ...) and waits for them. */
static void append_n(env_t *e, sl_log_t *log, int n)
{
    for (int i = 0; i < n; i++) {
        assert_true(e->apps_used < APPENDS_MAX);
        app_t *a = &e->apps[e->apps_used++];
        size_t len = batch_build(a->buf, sizeof a->buf, 1, 1000 + 100 * i, 40, 0);
        assert_int_equal(
            sl_log_append(log, &a->req, a->buf, len, 1, true, on_append, a, NULL, NULL), 0);
    }
    sim_disk_run(e->sim);
}

typedef struct {
    bool done;
    int status;
    uint8_t *bytes;
    size_t len;
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

/* The base offset of the first batch a read at offset returns, or the synchronous error. */
static int64_t read_first_base(env_t *e, sl_log_t *log, int64_t offset)
{
    sl_log_read_t req;
    res_t r = {0};
    int rc = sl_log_read(log, &req, offset, 1 << 16, true, on_read, &r);
    if (rc != 0)
        return rc;
    sim_disk_run(e->sim);
    assert_true(r.done);
    assert_int_equal(r.status, 0);
    assert_true(r.len >= SL_BATCH_HEADER_BYTES);
    int64_t base = sl__be64(r.bytes);
    sl_free(r.bytes);
    return base;
}

static bool file_exists(env_t *e, const char *path)
{
    size_t n;
    return sim_disk_file(e->sim, path, &n) != NULL;
}

static void test_moves_start_and_deletes_segments(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    sl_log_t *log = open_log(&e);
    append_n(&e, log, 9); /* segments [0,1] [2,3] [4,5] [6,7] [8] */
    assert_int_equal(log->seg_count, 5);
    assert_int_equal(sl_log_high_watermark(log), 9);

    assert_int_equal(sl_log_delete_records(log, 5), 0);
    assert_int_equal(sl_log_start_offset(log), 5);
    assert_int_equal(log->seg_count, 3); /* [4,5] holds offset 5: kept */
    assert_false(file_exists(&e, "/data/ds-0/00000000000000000000.log"));
    assert_false(file_exists(&e, "/data/ds-0/00000000000000000002.index"));
    assert_true(file_exists(&e, "/data/ds-0/00000000000000000004.log"));
    size_t n;
    const uint8_t *text = sim_disk_file(e.sim, "/data/ds-0/log-start-offset-checkpoint", &n);
    assert_non_null(text);
    assert_int_equal(n, strlen("0\n1\nds 0 5\n"));
    assert_memory_equal(text, "0\n1\nds 0 5\n", n);
    assert_int_equal(read_first_base(&e, log, 4), SL_LOG_EOUTOFRANGE);
    assert_int_equal(read_first_base(&e, log, 5), 5);

    /* Lower offsets change nothing; beyond the high watermark or negative is out of range. */
    assert_int_equal(sl_log_delete_records(log, 3), 0);
    assert_int_equal(sl_log_start_offset(log), 5);
    assert_int_equal(sl_log_delete_records(log, 10), SL_LOG_EOUTOFRANGE);
    assert_int_equal(sl_log_delete_records(log, -1), SL_LOG_EOUTOFRANGE);
    assert_int_equal(sl_log_start_offset(log), 5);

    /* Up to the high watermark: only the active segment is left, and it reads as empty. */
    assert_int_equal(sl_log_delete_records(log, 9), 0);
    assert_int_equal(sl_log_start_offset(log), 9);
    assert_int_equal(log->seg_count, 1);
    assert_int_equal(read_first_base(&e, log, 8), SL_LOG_EOUTOFRANGE);
    append_n(&e, log, 1);
    assert_int_equal(read_first_base(&e, log, 9), 9);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_start_survives_restart_and_crash(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    sl_log_t *log = open_log(&e);
    append_n(&e, log, 7); /* [0,1] [2,3] [4,5] [6] */
    assert_int_equal(sl_log_delete_records(log, 3), 0);
    env_close(&e);

    env_open(&e); /* clean restart */
    log = open_log(&e);
    assert_int_equal(sl_log_start_offset(log), 3);
    assert_int_equal(sl_log_end_offset(log), 7);
    assert_int_equal(read_first_base(&e, log, 2), SL_LOG_EOUTOFRANGE);
    assert_int_equal(read_first_base(&e, log, 3), 3);
    assert_int_equal(sl_log_delete_records(log, 4), 0);

    /* Unclean: the process dies with everything synced but no marker. */
    sim_disk_t *crashed = sim_disk_crash(e.sim, 0, 1);
    env_close(&e);
    sim_disk_destroy(e.sim);
    env_t c = {.sim = crashed};
    env_open(&c);
    assert_false(sl_log_dir_was_clean(c.dir));
    log = open_log(&c);
    assert_int_equal(sl_log_start_offset(log), 4);
    assert_int_equal(sl_log_end_offset(log), 7);
    env_close(&c);
    sim_disk_destroy(c.sim);
}

static void test_checkpoint_beyond_end_and_damaged(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    sl_log_t *log = open_log(&e);
    append_n(&e, log, 3);
    env_close(&e);
    /* A checkpoint past the end (data lost under the interval sync policy): start at the end. */
    const char *beyond = "0\n1\nds 0 100\n";
    assert_int_equal(sim_disk_write_file(e.sim, "/data/ds-0/log-start-offset-checkpoint", beyond,
                                         strlen(beyond)),
                     0);
    env_open(&e);
    log = open_log(&e);
    assert_int_equal(sl_log_start_offset(log), 3);
    assert_int_equal(sl_log_end_offset(log), 3);
    env_close(&e);
    /* A damaged file or one naming another partition is ignored. */
    const char *other = "0\n1\nds 1 2\n";
    assert_int_equal(
        sim_disk_write_file(e.sim, "/data/ds-0/log-start-offset-checkpoint", other, strlen(other)),
        0);
    env_open(&e);
    log = open_log(&e);
    assert_int_equal(sl_log_start_offset(log), 0);
    env_close(&e);
    const char *damaged = "7\nx\n";
    assert_int_equal(sim_disk_write_file(e.sim, "/data/ds-0/log-start-offset-checkpoint", damaged,
                                         strlen(damaged)),
                     0);
    env_open(&e);
    log = open_log(&e);
    assert_int_equal(sl_log_start_offset(log), 0);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

static void test_busy_segment_waits_and_retention_keeps_start(void **state)
{
    (void)state; /* no fixture */
    env_t e = {.sim = sim_disk_create()};
    env_open(&e);
    sl_log_t *log = open_log(&e);
    append_n(&e, log, 7); /* [0,1] [2,3] [4,5] [6] */
    /* A read in flight on segment 0 keeps it until a later pass. */
    sl_log_read_t req;
    res_t r = {0};
    assert_int_equal(sl_log_read(log, &req, 0, 1 << 16, true, on_read, &r), 0);
    assert_int_equal(sl_log_delete_records(log, 5), 0);
    assert_int_equal(sl_log_start_offset(log), 5);
    assert_int_equal(log->seg_count, 4);
    sim_disk_run(e.sim);
    assert_true(r.done);
    sl_free(r.bytes);
    assert_int_equal(sl_log_apply_retention(log, 0), 2);
    assert_int_equal(log->seg_count, 2);
    /* Deleting what lies below the start leaves the start where DeleteRecords put it. */
    assert_int_equal(sl_log_start_offset(log), 5);
    sl_log_config_t cfg = test_config();
    cfg.retention_ms = 1;
    sl_log_set_config(log, &cfg);
    assert_int_equal(sl_log_apply_retention(log, 1000000), 1);
    assert_int_equal(sl_log_start_offset(log), 6);
    env_close(&e);
    sim_disk_destroy(e.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moves_start_and_deletes_segments),
        cmocka_unit_test(test_start_survives_restart_and_crash),
        cmocka_unit_test(test_checkpoint_beyond_end_and_damaged),
        cmocka_unit_test(test_busy_segment_waits_and_retention_keeps_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
