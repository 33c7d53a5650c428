/* Unit tests for src/replication/raft_log.c and the log store's replicated-log additions: real
 * temp directories on the real disk backends (the thread pool and io_uring, each group run once
 * per backend) with a real uv loop; only the clock is faked, and EIO is injected by a seam wrapper
 * that rewrites the result of a real fdatasync (as tests/unit/io does for io_uring). Power-loss
 * crashes use sim_disk's crash image, since a real file system cannot drop its page cache on
 * demand. Real sl_raft_t cores (one voter, then three with messages passed by hand and the
 * leader's Fetch answers read from its log) show propose -> flush -> high watermark -> committed.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch_builder.h"
#include "raft_log.h"
#include "sim_disk.h"
#include "sluice/protocol.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

#define GUARD 200000

static bool use_uring;

/* ---- EIO through the seam: a wrapper around the real backend's vtable ---- */

static const sl_disk_ops_t *real_ops;
static sl_disk_ops_t fault_ops;
static int fail_fdatasyncs; /* how many of the next fdatasyncs report -EIO */

typedef struct {
    sl_disk_cb cb;
    void *data;
    bool used;
} hooked_t;
static hooked_t hooked[64];

static void hooked_done(sl_disk_op_t *op, int64_t result, void *data)
{
    hooked_t *h = data;
    h->used = false;
    h->cb(op, -EIO, h->data); /* the real fdatasync ran; the device "failed" it */
    (void)result;
}

static int fault_fdatasync(sl_disk_t *disk, sl_disk_op_t *op, int fd, sl_disk_cb cb, void *data)
{
    if (fail_fdatasyncs == 0)
        return real_ops->fdatasync(disk, op, fd, cb, data);
    for (size_t i = 0; i < SL_ARRAY_LEN(hooked); i++) {
        if (!hooked[i].used) {
            hooked[i] = (hooked_t){cb, data, true};
            fail_fdatasyncs--;
            return real_ops->fdatasync(disk, op, fd, hooked_done, &hooked[i]);
        }
    }
    fail_msg("too many hooked fdatasyncs");
    return -EIO;
}

/* ---- fixture: a temp dir, a loop, a backend, a log dir ---- */

typedef struct {
    char root[64];
    uv_loop_t loop;
    sl_disk_t disk; /* the wrapped seam the log dir uses */
    sl_disk_t real;
    sim_clock_t clock;
    sl_log_dir_t *dir;
} world_t;

static void world_open_dir(world_t *w)
{
    assert_int_equal(sl_log_dir_open(w->root, w->disk, &w->clock.ops, &w->dir), 0);
}

static void dir_closed(sl_log_dir_t *dir, void *data)
{
    (void)dir; /* freed by the log */
    *(bool *)data = true;
}

static void drain(world_t *w)
{
    for (int i = 0; i < GUARD && uv_run(&w->loop, UV_RUN_ONCE) != 0; i++)
        ;
}

static void world_close_dir(world_t *w)
{
    bool closed = false;
    sl_log_dir_close(w->dir, dir_closed, &closed);
    for (int i = 0; i < GUARD && !closed; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_true(closed);
    w->dir = NULL;
}

static int setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    snprintf(w->root, sizeof w->root, "/tmp/sl_raft_log_XXXXXX");
    assert_non_null(mkdtemp(w->root));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    if (use_uring) {
        char reason[256];
        int rc = sl_disk_uring_init(&w->loop, &w->real, reason, sizeof reason);
        if (rc != 0)
            fail_msg("io_uring unavailable on this machine: %s", reason);
    } else {
        assert_int_equal(sl_disk_sync_init(&w->loop, &w->real), 0);
    }
    real_ops = w->real.ops;
    fault_ops = *real_ops;
    fault_ops.fdatasync = fault_fdatasync;
    fail_fdatasyncs = 0;
    w->disk = (sl_disk_t){&fault_ops, w->real.impl};
    sim_clock_init(&w->clock, 1700000000000);
    world_open_dir(w);
    *state = w;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw; /* every entry goes */
    return remove(path);
}

static int teardown(void **state)
{
    world_t *w = *state;
    if (w->dir != NULL)
        world_close_dir(w);
    if (use_uring)
        sl_disk_uring_deinit(&w->real);
    else
        sl_disk_sync_deinit(&w->real);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    nftw(w->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(w);
    return 0;
}

static void path_in(const world_t *w, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", w->root, name);
}

/* ---- helpers ---- */

static sl_raft_batch_t batch_of(const uint8_t *bytes, int64_t base, int32_t count, int32_t epoch)
{
    return (sl_raft_batch_t){
        .base_offset = base, .record_count = count, .leader_epoch = epoch, .payload = bytes};
}

/* Appends a fresh batch of count records in epoch through the env, as the core would. */
static void env_append(sl_raft_env_t *env, sl_raft_log_t *rl, int32_t count, int32_t epoch)
{
    size_t len;
    uint8_t *b = test_batch_build(count, 1000, &len);
    sl_raft_batch_t batch = batch_of(b, sl_log_end_offset(sl_raft_log_log(rl)), count, epoch);
    env->log_append(env->data, &batch, 1);
    memset(b, 0xee, len); /* lent for the call only: the log must have its own copy */
    sl_free(b);
}

static void flush_and_wait(world_t *w, sl_raft_env_t *env, sl_raft_log_t *rl)
{
    int64_t end = sl_log_end_offset(sl_raft_log_log(rl));
    env->log_flush(env->data, end);
    assert_true(sl_raft_log_flushed_offset(rl) < end); /* never inside the call */
    drain(w);
    assert_int_equal(sl_raft_log_flushed_offset(rl), end);
}

typedef struct {
    bool done;
    int status;
    uint8_t *bytes;
    size_t len;
} read_result_t;

static void on_read(sl_log_read_t *req, int status, uint8_t *bytes, size_t len, void *data)
{
    (void)req; /* the result is in data */
    read_result_t *r = data;
    r->done = true;
    r->status = status;
    r->bytes = bytes;
    r->len = len;
}

static read_result_t read_wait(world_t *w, sl_raft_log_t *rl, int64_t offset, int64_t end)
{
    sl_log_read_t req;
    read_result_t r = {0};
    assert_int_equal(sl_raft_log_read(rl, &req, offset, end, 1 << 20, on_read, &r), 0);
    assert_false(r.done);
    for (int i = 0; i < GUARD && !r.done; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_true(r.done);
    return r;
}

static read_result_t client_read_wait(world_t *w, sl_log_t *log, int64_t offset)
{
    sl_log_read_t req;
    read_result_t r = {0};
    assert_int_equal(sl_log_read(log, &req, offset, 1 << 20, true, on_read, &r), 0);
    for (int i = 0; i < GUARD && !r.done; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_true(r.done);
    return r;
}

/* Splits read bytes into the core's batch view (as the Fetch transport does). */
static size_t parse_batches(const uint8_t *p, size_t len, sl_raft_batch_t *out, size_t cap)
{
    size_t n = 0, pos = 0;
    while (pos < len && n < cap) {
        sl_record_batch_t hdr;
        assert_int_equal(sl_record_batch_parse(p + pos, len - pos, &hdr), 0);
        size_t size = sl_record_batch_size(&hdr);
        assert_int_equal(sl_record_batch_crc(p + pos, size), hdr.crc);
        out[n++] = (sl_raft_batch_t){.base_offset = hdr.base_offset,
                                     .record_count = hdr.last_offset_delta + 1,
                                     .leader_epoch = hdr.partition_leader_epoch,
                                     .control = (hdr.attributes & SL_RECORD_BATCH_CONTROL) != 0,
                                     .payload = p + pos};
        pos += size;
    }
    assert_int_equal(pos, len);
    return n;
}

static sl_raft_log_t *open_rl(world_t *w, sl_raft_env_t *env)
{
    char qs[256];
    snprintf(qs, sizeof qs, "%s/__cluster_metadata-0/" SL_RAFT_QUORUM_STATE_FILE, w->root);
    sl_raft_log_t *rl = NULL;
    assert_int_equal(sl_raft_log_open(w->dir, "__cluster_metadata", 0, NULL, qs, &rl), 0);
    *env = (sl_raft_env_t){0};
    sl_raft_log_fill_env(rl, env);
    return rl;
}

/* ---- quorum-state JSON ---- */

static void test_quorum_state_json(void **state)
{
    (void)state; /* pure */
    sl_raft_quorum_state_t s = {.leader_epoch = 7, .voted_id = 2, .leader_id = 3}, back;
    int32_t voters[] = {1, 2, 3};
    sl_buf_t b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_raft_quorum_state_encode(&s, voters, 3, &b), 0);
    assert_int_equal(b.len,
                     strlen("{\"clusterId\":\"\",\"leaderId\":3,\"leaderEpoch\":7,"
                            "\"votedId\":2,\"appliedOffset\":0,\"currentVoters\":[{\"voterId\""
                            ":1},{\"voterId\":2},{\"voterId\":3}],\"data_version\":0}"));
    assert_memory_equal(b.ptr, "{\"clusterId\":\"\",\"leaderId\":3,\"leaderEpoch\":7", 43);
    assert_int_equal(sl_raft_quorum_state_parse((const char *)b.ptr, b.len, &back, NULL), 0);
    assert_int_equal(back.leader_epoch, 7);
    assert_int_equal(back.voted_id, 2);
    assert_int_equal(back.leader_id, 3);
    sl_buf_deinit(&b);

    /* As Kafka 3.x and 3.8+ (data_version 1, KIP-853) write it. */
    const char *kafka0 = "{\"clusterId\":\"\",\"leaderId\":-1,\"leaderEpoch\":4,\"votedId\":1,"
                         "\"appliedOffset\":0,\"currentVoters\":[{\"voterId\":1}],"
                         "\"data_version\":0}\n";
    assert_int_equal(sl_raft_quorum_state_parse(kafka0, strlen(kafka0), &back, NULL), 0);
    assert_int_equal(back.leader_id, -1);
    assert_int_equal(back.voted_id, 1);
    const char *kafka1 = "{\"leaderId\":2,\"leaderEpoch\":9,\"votedId\":-1,\"votedDirectoryId\":"
                         "\"AAAAAAAAAAAAAAAAAAAAAA\",\"data_version\":1}";
    assert_int_equal(sl_raft_quorum_state_parse(kafka1, strlen(kafka1), &back, NULL), 0);
    assert_int_equal(back.leader_epoch, 9);

    const char *bad[] = {"",
                         "{",
                         "{\"leaderId\":1,\"leaderEpoch\":2,\"votedId\":3}",
                         "{\"leaderId\":1,\"leaderEpoch\":2,\"votedId\":3,\"data_version\":0",
                         "{\"leaderId\":1,\"leaderEpoch\":-2,\"votedId\":3,\"data_version\":0}",
                         "{\"leaderId\":x,\"leaderEpoch\":2,\"votedId\":3,\"data_version\":0}",
                         "{\"leaderId\":1,\"leaderEpoch\":2,\"votedId\":3,\"data_version\":0}}",
                         "{\"leaderId\":1,\"leaderEpoch\":99999999999,\"votedId\":3,"
                         "\"data_version\":0}"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        const char *reason = NULL;
        assert_int_equal(sl_raft_quorum_state_parse(bad[i], strlen(bad[i]), &back, &reason),
                         SL_ECORRUPT);
        assert_non_null(reason);
    }
}

/* ---- append, flush, read, restart ---- */

static void test_append_flush_read_restart(void **state)
{
    world_t *w = *state;
    sl_raft_env_t env;
    sl_raft_log_t *rl = open_rl(w, &env);
    sl_raft_log_state_t ls;
    const sl_raft_quorum_state_t *persisted = (void *)1;
    sl_raft_log_recovered(rl, &ls, &persisted);
    assert_int_equal(ls.log_end_offset, 0);
    assert_int_equal(ls.epoch_count, 0);
    assert_null(persisted);

    env_append(&env, rl, 3, 1); /* 0..2 */
    env_append(&env, rl, 2, 1); /* 3..4 */
    env_append(&env, rl, 4, 2); /* 5..8 */
    sl_log_t *log = sl_raft_log_log(rl);
    assert_int_equal(sl_log_end_offset(log), 9);
    flush_and_wait(w, &env, rl);
    assert_int_equal(sl_log_synced_offset(log), 9);

    /* The replica read goes past the high watermark (still 0: nothing committed) ... */
    assert_int_equal(sl_log_high_watermark(log), 0);
    read_result_t r = read_wait(w, rl, 0, 9);
    sl_raft_batch_t got[8];
    assert_int_equal(parse_batches(r.bytes, r.len, got, 8), 3);
    assert_int_equal(got[1].base_offset, 3);
    assert_int_equal(got[1].record_count, 2);
    assert_int_equal(got[2].leader_epoch, 2);
    sl_free(r.bytes);
    /* ... never past end_offset, starting at the batch holding offset ... */
    r = read_wait(w, rl, 4, 5);
    assert_int_equal(parse_batches(r.bytes, r.len, got, 8), 1);
    assert_int_equal(got[0].base_offset, 3);
    sl_free(r.bytes);
    r = read_wait(w, rl, 9, 9);
    assert_int_equal(r.len, 0);
    /* ... while clients see nothing until the owner moves the high watermark. */
    r = client_read_wait(w, log, 0);
    assert_int_equal(r.len, 0);
    sl_raft_log_set_high_watermark(rl, 5);
    r = client_read_wait(w, log, 0);
    assert_int_equal(parse_batches(r.bytes, r.len, got, 8), 2); /* 0..4, not the third */
    sl_free(r.bytes);

    sl_raft_quorum_state_t qs = {.leader_epoch = 2, .voted_id = 1, .leader_id = 1};
    int32_t voters[] = {1};
    sl_raft_log_set_voters(rl, voters, 1);
    env.quorum_state_save(env.data, &qs);
    assert_int_equal(sl_raft_log_error(rl), 0);
    assert_int_equal(sl_raft_log_close(rl), 0);
    world_close_dir(w);

    world_open_dir(w);
    rl = open_rl(w, &env);
    sl_raft_log_recovered(rl, &ls, &persisted);
    assert_int_equal(ls.log_end_offset, 9);
    assert_int_equal(ls.epoch_count, 2);
    assert_int_equal(ls.epochs[0].leader_epoch, 1);
    assert_int_equal(ls.epochs[0].start_offset, 0);
    assert_int_equal(ls.epochs[1].leader_epoch, 2);
    assert_int_equal(ls.epochs[1].start_offset, 5);
    assert_non_null(persisted);
    assert_int_equal(persisted->leader_epoch, 2);
    assert_int_equal(persisted->voted_id, 1);
    assert_int_equal(persisted->leader_id, 1);
    /* Nothing is visible to clients after a restart until the core says it is committed. */
    assert_int_equal(sl_log_high_watermark(sl_raft_log_log(rl)), 0);
    assert_int_equal(sl_raft_log_close(rl), 0);
}

static void test_truncate(void **state)
{
    world_t *w = *state;
    sl_raft_env_t env;
    sl_raft_log_t *rl = open_rl(w, &env);
    sl_log_t *log = sl_raft_log_log(rl);
    env_append(&env, rl, 3, 1); /* 0..2 */
    env_append(&env, rl, 3, 2); /* 3..5 */
    env_append(&env, rl, 3, 3); /* 6..8 */
    flush_and_wait(w, &env, rl);
    sl_raft_log_set_high_watermark(rl, 3);

    assert_int_equal(sl_log_truncate(log, 2), SL_LOG_EOUTOFRANGE); /* below the high watermark */
    assert_int_equal(sl_log_truncate(log, 4), -EINVAL);            /* inside a batch */
    assert_int_equal(sl_log_truncate(log, 10), SL_LOG_EOUTOFRANGE);
    assert_int_equal(sl_log_end_offset(log), 9);

    env.log_truncate(env.data, 6); /* DivergingEpoch: epoch 3 goes */
    assert_int_equal(sl_raft_log_error(rl), 0);
    assert_int_equal(sl_log_end_offset(log), 6);
    size_t n;
    const sl_log_epoch_t *e = sl_log_leader_epochs(log, &n);
    assert_int_equal(n, 2);
    assert_int_equal(e[1].epoch, 2);
    read_result_t r = read_wait(w, rl, 0, 100);
    sl_raft_batch_t got[8];
    assert_int_equal(parse_batches(r.bytes, r.len, got, 8), 2);
    sl_free(r.bytes);

    /* The log continues from the cut in a new epoch, and all of it survives a restart. */
    env_append(&env, rl, 1, 4); /* 6 */
    flush_and_wait(w, &env, rl);
    assert_int_equal(sl_raft_log_close(rl), 0);
    world_close_dir(w);
    world_open_dir(w);
    rl = open_rl(w, &env);
    sl_raft_log_state_t ls;
    sl_raft_log_recovered(rl, &ls, NULL);
    assert_int_equal(ls.log_end_offset, 7);
    assert_int_equal(ls.epoch_count, 3);
    assert_int_equal(ls.epochs[2].leader_epoch, 4);
    assert_int_equal(ls.epochs[2].start_offset, 6);
    r = read_wait(w, rl, 0, 100);
    assert_int_equal(parse_batches(r.bytes, r.len, got, 8), 3);
    assert_int_equal(got[2].base_offset, 6);
    assert_int_equal(got[2].leader_epoch, 4);
    sl_free(r.bytes);

    /* Through the env, a refused truncation stops the group. */
    sl_raft_log_set_high_watermark(rl, 7);
    env.log_truncate(env.data, 3);
    assert_true(sl_raft_log_error(rl) < 0);
    assert_int_equal(sl_log_end_offset(sl_raft_log_log(rl)), 7);
    assert_int_equal(sl_raft_log_close(rl), 0);
}

static void append_ignored(sl_log_append_t *req, int status, void *data)
{
    (void)req, (void)data; /* the test looks at the log afterwards */
    assert_int_equal(status, 0);
}

static void test_truncate_across_segments(void **state)
{
    world_t *w = *state;
    sl_log_t *log = NULL;
    sl_log_config_t cfg;
    sl_log_config_default(&cfg);
    cfg.segment_bytes = 300; /* a segment per batch or two */
    assert_int_equal(sl_log_open(w->dir, "t", 0, NULL, &cfg, &log), 0);
    assert_int_equal(sl_log_make_replicated(log), 0);
    sl_log_append_t reqs[10];
    uint8_t *bufs[10];
    for (int i = 0; i < 10; i++) {
        size_t len;
        bufs[i] = test_batch_build(2, 1000 + i, &len);
        assert_int_equal(sl_log_append(log, &reqs[i], bufs[i], len, 1 + i / 4, false,
                                       append_ignored, NULL, NULL, NULL),
                         0);
    }
    drain(w);
    size_t segs = sl_log_segment_count(log);
    assert_true(segs >= 4);
    assert_int_equal(sl_log_end_offset(log), 20);
    assert_int_equal(sl_log_truncate(log, 6), 0); /* epoch 2 starts at 8: it goes */
    assert_true(sl_log_segment_count(log) < segs);
    assert_int_equal(sl_log_end_offset(log), 6);
    size_t n;
    sl_log_leader_epochs(log, &n);
    assert_int_equal(n, 1);
    assert_int_equal(sl_log_close(log), 0);
    for (int i = 0; i < 10; i++)
        sl_free(bufs[i]);
    world_close_dir(w);
    world_open_dir(w);
    assert_int_equal(sl_log_open(w->dir, "t", 0, NULL, &cfg, &log), 0);
    assert_int_equal(sl_log_end_offset(log), 6);
    assert_int_equal(sl_log_close(log), 0);
}

static void test_flush_failure(void **state)
{
    world_t *w = *state;
    sl_raft_env_t env;
    sl_raft_log_t *rl = open_rl(w, &env);
    env_append(&env, rl, 2, 1);
    flush_and_wait(w, &env, rl);
    env_append(&env, rl, 2, 1);
    fail_fdatasyncs = 1;
    env.log_flush(env.data, 4);
    drain(w);
    assert_int_equal(sl_raft_log_error(rl), -EIO);
    assert_int_equal(sl_raft_log_flushed_offset(rl), 2); /* never reported beyond the failure */
    assert_true(sl_log_dir_is_offline(w->dir));
    /* Every later flush reports the failure too, through the loop. */
    env.log_flush(env.data, 4);
    drain(w);
    assert_int_equal(sl_raft_log_flushed_offset(rl), 2);
    assert_int_equal(sl_raft_log_close(rl), 0);
}

/* ---- power loss on sim_disk: unflushed data is never reported flushed ---- */

static void test_crash_never_reports_unflushed(void **state)
{
    (void)state; /* sim_disk: the only way to drop a page cache on demand */
    sim_disk_t *sim = sim_disk_create();
    sim_clock_t clock;
    sim_clock_init(&clock, 1700000000000);
    sl_disk_t seam = sim_disk_seam(sim);
    assert_int_equal(seam.ops->mkdir(&seam, "/d"), 0);
    sl_log_dir_t *dir = NULL;
    assert_int_equal(sl_log_dir_open("/d", seam, &clock.ops, &dir), 0);
    sl_raft_log_t *rl = NULL;
    assert_int_equal(sl_raft_log_open(dir, "m", 0, NULL, "/d/m-0/quorum-state", &rl), 0);
    sl_raft_env_t env = {0};
    sl_raft_log_fill_env(rl, &env);
    env_append(&env, rl, 3, 1);
    env.log_flush(env.data, 3);
    sim_disk_run(sim);
    assert_int_equal(sl_raft_log_flushed_offset(rl), 3);

    env_append(&env, rl, 3, 1); /* 3..5: written, flush asked, but the fdatasync never ends */
    env.log_flush(env.data, 6);
    sim_disk_run_at(sim, 0); /* the write completes */
    assert_int_equal(sl_raft_log_flushed_offset(rl), 3);
    sl_raft_quorum_state_t qs = {.leader_epoch = 1, .voted_id = 1, .leader_id = 1};
    env.quorum_state_save(env.data, &qs);

    sim_disk_t *after = sim_disk_crash(sim, 0, 1);
    sim_disk_run(sim); /* let the old world finish so it can be freed */
    assert_int_equal(sl_raft_log_close(rl), 0);
    bool closed = false;
    sl_log_dir_close(dir, dir_closed, &closed);
    sim_disk_run(sim);
    assert_true(closed);
    sim_disk_destroy(sim);

    seam = sim_disk_seam(after);
    assert_int_equal(sl_log_dir_open("/d", seam, &clock.ops, &dir), 0);
    assert_int_equal(sl_raft_log_open(dir, "m", 0, NULL, "/d/m-0/quorum-state", &rl), 0);
    sl_raft_log_state_t ls;
    const sl_raft_quorum_state_t *persisted = NULL;
    sl_raft_log_recovered(rl, &ls, &persisted);
    assert_int_equal(ls.log_end_offset, 3); /* what was reported flushed, and no more */
    assert_non_null(persisted);             /* saved durably before the crash */
    assert_int_equal(persisted->leader_epoch, 1);
    assert_int_equal(sl_raft_log_close(rl), 0);
    closed = false;
    sl_log_dir_close(dir, dir_closed, &closed);
    sim_disk_run(after);
    assert_true(closed);
    sim_disk_destroy(after);
}

typedef struct {
    bool done;
    int status;
    int64_t offset;
} lookup_result_t;

static void on_lookup(sl_log_lookup_t *req, int status, int64_t offset, int64_t ts, void *data)
{
    (void)req, (void)ts; /* the offset says it all */
    lookup_result_t *r = data;
    r->done = true;
    r->status = status;
    r->offset = offset;
}

/* A reader whose pread lands after a truncation cut the file under it gets a short read: it must
 * end (nothing more is there), not ask again for bytes that are gone, forever. */
static void test_read_cut_under_it(void **state)
{
    (void)state; /* sim_disk: the read's bytes are taken when its completion runs */
    sim_disk_t *sim = sim_disk_create();
    sim_clock_t clock;
    sim_clock_init(&clock, 1700000000000);
    sl_disk_t seam = sim_disk_seam(sim);
    assert_int_equal(seam.ops->mkdir(&seam, "/d"), 0);
    sl_log_dir_t *dir = NULL;
    assert_int_equal(sl_log_dir_open("/d", seam, &clock.ops, &dir), 0);
    sl_raft_log_t *rl = NULL;
    assert_int_equal(sl_raft_log_open(dir, "m", 0, NULL, NULL, &rl), 0);
    sl_raft_env_t env = {0};
    sl_raft_log_fill_env(rl, &env);
    env_append(&env, rl, 3, 1);
    env_append(&env, rl, 3, 1);
    size_t len;
    uint8_t *late = test_batch_build(3, 5000, &len); /* the only records at 5000 and later */
    sl_raft_batch_t b = batch_of(late, 6, 3, 2);
    env.log_append(env.data, &b, 1);
    sl_free(late);
    env.log_flush(env.data, 9);
    sim_disk_run(sim);
    sl_raft_log_set_high_watermark(rl, 6);
    /* The lookup walks the segment for a record at 5000: only the batch at 6 has one, and it is
     * past the high watermark, then cut while the walk's read is in flight. */
    sl_log_lookup_t req;
    lookup_result_t res = {0};
    assert_int_equal(sl_log_offset_for_timestamp(sl_raft_log_log(rl), &req, 5000, on_lookup, &res),
                     0);
    env.log_truncate(env.data, 6); /* before the lookup's read completes */
    assert_int_equal(sl_raft_log_error(rl), 0);
    sim_disk_run(sim);
    assert_true(res.done);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.offset, -1); /* no record that late */
    assert_int_equal(sl_raft_log_close(rl), 0);
    bool closed = false;
    sl_log_dir_close(dir, dir_closed, &closed);
    sim_disk_run(sim);
    assert_true(closed);
    sim_disk_destroy(sim);
}

/* ---- seeded rounds of appends, flushes, truncations and power losses on sim_disk ---- */

typedef struct {
    int64_t base;
    int32_t count, epoch;
} model_batch_t;

typedef struct {
    sim_disk_t *sim;
    sim_clock_t clock;
    sl_log_dir_t *dir;
    sl_raft_log_t *rl;
    sl_raft_env_t env;
    model_batch_t batches[4096];
    size_t batch_count;
    int64_t hw;    /* what the owner has made visible: never truncated */
    int32_t epoch; /* the epoch new batches are appended in */
    uint64_t rng;
    sl_raft_quorum_state_t saved;
    bool have_saved;
} rounds_t;

static uint64_t rounds_rnd(rounds_t *r, uint64_t n)
{
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) % n;
}

static int64_t model_end(const rounds_t *r)
{
    return r->batch_count
               ? r->batches[r->batch_count - 1].base + r->batches[r->batch_count - 1].count
               : 0;
}

static void rounds_open(rounds_t *r)
{
    sl_disk_t seam = sim_disk_seam(r->sim);
    assert_int_equal(sl_log_dir_open("/d", seam, &r->clock.ops, &r->dir), 0);
    assert_int_equal(sl_raft_log_open(r->dir, "m", 0, NULL, "/d/m-0/quorum-state", &r->rl), 0);
    sl_log_config_t cfg;
    sl_log_config_default(&cfg);
    cfg.retention_ms = cfg.retention_bytes = -1;
    cfg.segment_bytes = 700; /* rolls every few batches: truncation and recovery cross segments */
    sl_log_set_config(sl_raft_log_log(r->rl), &cfg);
    r->env = (sl_raft_env_t){0};
    sl_raft_log_fill_env(r->rl, &r->env);
}

/* After a restart: the recovered log is a prefix of what was appended, at least what was
 * reported flushed, with the epochs of its batches, byte for byte (CRC checked). */
static void rounds_check_recovered(rounds_t *r, int64_t reported)
{
    sl_raft_log_state_t ls;
    const sl_raft_quorum_state_t *persisted;
    sl_raft_log_recovered(r->rl, &ls, &persisted);
    assert_true(ls.log_end_offset >= reported);
    assert_true(ls.log_end_offset <= model_end(r));
    while (r->batch_count > 0 && r->batches[r->batch_count - 1].base >= ls.log_end_offset)
        r->batch_count--;
    assert_int_equal(model_end(r), ls.log_end_offset); /* cut at a batch boundary */
    size_t e = 0;
    for (size_t i = 0; i < r->batch_count; i++) {
        if (i > 0 && r->batches[i].epoch == r->batches[i - 1].epoch)
            continue;
        assert_true(e < ls.epoch_count);
        assert_int_equal(ls.epochs[e].leader_epoch, r->batches[i].epoch);
        assert_int_equal(ls.epochs[e].start_offset, r->batches[i].base);
        e++;
    }
    assert_int_equal(e, ls.epoch_count);
    assert_int_equal(persisted != NULL, r->have_saved);
    if (persisted != NULL) {
        assert_int_equal(persisted->leader_epoch, r->saved.leader_epoch);
        assert_int_equal(persisted->voted_id, r->saved.voted_id);
    }
    size_t i = 0;
    int64_t offset = 0;
    while (offset < ls.log_end_offset) {
        sl_log_read_t req;
        read_result_t res = {0};
        assert_int_equal(
            sl_raft_log_read(r->rl, &req, offset, ls.log_end_offset, 4096, on_read, &res), 0);
        sim_disk_run(r->sim);
        assert_true(res.done);
        assert_int_equal(res.status, 0);
        sl_raft_batch_t got[64];
        size_t n = parse_batches(res.bytes, res.len, got, 64);
        assert_true(n > 0);
        for (size_t k = 0; k < n; k++, i++) {
            assert_int_equal(got[k].base_offset, r->batches[i].base);
            assert_int_equal(got[k].record_count, r->batches[i].count);
            assert_int_equal(got[k].leader_epoch, r->batches[i].epoch);
            offset = got[k].base_offset + got[k].record_count;
        }
        sl_free(res.bytes);
    }
    if (r->hw > ls.log_end_offset)
        r->hw = ls.log_end_offset; /* a single node's "commit": only what was flushed */
    r->epoch = r->batch_count ? r->batches[r->batch_count - 1].epoch : 1;
    sl_raft_log_set_high_watermark(r->rl, r->hw);
}

static void rounds_close(rounds_t *r, sim_disk_t *sim)
{
    sim_disk_run(sim);
    assert_int_equal(sl_raft_log_close(r->rl), 0);
    bool closed = false;
    sl_log_dir_close(r->dir, dir_closed, &closed);
    sim_disk_run(sim);
    assert_true(closed);
}

static void test_crash_rounds(void **state)
{
    (void)state; /* sim_disk, seeded */
    rounds_t *r = calloc(1, sizeof *r);
    const char *seed = getenv("SL_RAFT_LOG_SEED"); /* another schedule, to explore by hand */
    r->rng = seed != NULL ? strtoull(seed, NULL, 10) : 20261128;
    r->epoch = 1;
    r->sim = sim_disk_create();
    sim_clock_init(&r->clock, 1700000000000);
    sl_disk_t seam = sim_disk_seam(r->sim);
    assert_int_equal(seam.ops->mkdir(&seam, "/d"), 0);
    rounds_open(r);
    rounds_check_recovered(r, 0);
    size_t truncations = 0, torn = 0;
    for (int round = 0; round < 100; round++) {
        int ops = 1 + (int)rounds_rnd(r, 12);
        for (int op = 0; op < ops; op++) {
            uint64_t what = rounds_rnd(r, 10);
            if (what < 5 && r->batch_count + 4 < SL_ARRAY_LEN(r->batches)) {
                if (rounds_rnd(r, 5) == 0)
                    r->epoch++;
                int32_t count = 1 + (int32_t)rounds_rnd(r, 4);
                int64_t base = model_end(r);
                r->batches[r->batch_count++] = (model_batch_t){base, count, r->epoch};
                env_append(&r->env, r->rl, count, r->epoch);
            } else if (what < 7) {
                r->env.log_flush(r->env.data, model_end(r));
                /* the core's rule: one at a time; finish this one before the next */
                for (int k = 0; k < 64 && sim_disk_pending(r->sim) > 0 && rounds_rnd(r, 4); k++)
                    sim_disk_run_at(r->sim, (size_t)rounds_rnd(r, sim_disk_pending(r->sim)));
                sim_disk_run(r->sim);
                int64_t flushed = sl_raft_log_flushed_offset(r->rl);
                assert_int_equal(flushed, model_end(r));
                if (rounds_rnd(r, 3) == 0)
                    r->hw = flushed;
                sl_raft_log_set_high_watermark(r->rl, r->hw);
            } else if (what < 8 && r->batch_count > 0) {
                sim_disk_run(r->sim); /* the core truncates only with nothing in flight */
                size_t first = 0;     /* the first batch the high watermark allows cutting */
                while (first < r->batch_count && r->batches[first].base < r->hw)
                    first++;
                size_t keep = first + (size_t)rounds_rnd(r, r->batch_count - first + 1);
                int64_t to = keep < r->batch_count ? r->batches[keep].base : model_end(r);
                if (to < r->hw || to == model_end(r))
                    continue;
                r->env.log_truncate(r->env.data, to);
                assert_int_equal(sl_raft_log_error(r->rl), 0);
                r->batch_count = keep;
                assert_int_equal(sl_log_end_offset(sl_raft_log_log(r->rl)), to);
                truncations++;
                r->epoch++; /* the next leader's epoch */
            } else if (what < 9) {
                r->saved = (sl_raft_quorum_state_t){.leader_epoch = r->epoch,
                                                    .voted_id = (int32_t)rounds_rnd(r, 3),
                                                    .leader_id = -1};
                r->env.quorum_state_save(r->env.data, &r->saved);
                r->have_saved = true;
            } else {
                /* some completions, in any order, then nothing more */
                for (int k = 0; k < 8 && sim_disk_pending(r->sim) > 0; k++)
                    sim_disk_run_at(r->sim, (size_t)rounds_rnd(r, sim_disk_pending(r->sim)));
            }
        }
        /* Power loss now: what was reported flushed must survive, whatever else is torn. */
        int64_t reported = sl_raft_log_flushed_offset(r->rl);
        if (reported > model_end(r))
            reported = model_end(r); /* a truncation after the last flush */
        bool tear = rounds_rnd(r, 2) == 0;
        torn += tear;
        sim_disk_t *after =
            sim_disk_crash(r->sim, tear ? SIM_DISK_TEAR_RANDOM : 0, rounds_rnd(r, 1000000));
        rounds_close(r, r->sim); /* the old world finishes into the old disk */
        sim_disk_destroy(r->sim);
        r->sim = after;
        rounds_open(r);
        rounds_check_recovered(r, SL_MAX(reported, 0));
    }
    assert_true(truncations > 5);
    assert_true(torn > 5);
    rounds_close(r, r->sim);
    sim_disk_destroy(r->sim);
    free(r);
}

static void test_damaged_quorum_state_refused(void **state)
{
    world_t *w = *state;
    sl_raft_env_t env;
    sl_raft_log_t *rl = open_rl(w, &env);
    sl_raft_quorum_state_t qs = {.leader_epoch = 3, .voted_id = 2, .leader_id = -1};
    env.quorum_state_save(env.data, &qs);
    assert_int_equal(sl_raft_log_close(rl), 0);
    char path[256];
    path_in(w, "__cluster_metadata-0/" SL_RAFT_QUORUM_STATE_FILE, path, sizeof path);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    assert_int_equal(fseek(f, 20, SEEK_SET), 0);
    fputs("\x01garbage", f); /* torn mid-file */
    fclose(f);
    char qp[256];
    snprintf(qp, sizeof qp, "%s", path);
    assert_int_equal(sl_raft_log_open(w->dir, "__cluster_metadata", 0, NULL, qp, &rl), SL_ECORRUPT);
    f = fopen(path, "w"); /* empty: a torn first write */
    fclose(f);
    assert_int_equal(sl_raft_log_open(w->dir, "__cluster_metadata", 0, NULL, qp, &rl), SL_ECORRUPT);
}

/* ---- real Raft cores over the env ---- */

#define NODES 3
#define OUTBOX_MAX 256

typedef struct {
    world_t *w;
    int n;
    sl_raft_log_t *rl[NODES];
    sl_raft_t *raft[NODES];
    sl_log_dir_t *dirs[NODES];
    sl_raft_msg_t outbox[OUTBOX_MAX];
    size_t out_count;
    bool isolated[NODES]; /* its messages, both ways, are lost */
    uint64_t now, rng;
} cluster_t;

static void cl_send(void *data, const sl_raft_msg_t *msg)
{
    cluster_t *c = *(cluster_t **)data;
    assert_true(c->out_count < OUTBOX_MAX);
    c->outbox[c->out_count++] = *msg;
}

static uint64_t cl_random(void *data)
{
    cluster_t *c = *(cluster_t **)data;
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    return z ^ (z >> 31);
}

/* The env's data must reach both the cluster (send, random) and rl (the log callbacks): a small
 * wrapper per node, as the host will have. */
typedef struct {
    cluster_t *c;
    sl_raft_log_t *rl;
} node_ctx_t;
static node_ctx_t ctx[NODES];

static void w_append(void *d, const sl_raft_batch_t *b, size_t n)
{
    sl_raft_log_append(((node_ctx_t *)d)->rl, b, n);
}
static void w_truncate(void *d, int64_t o)
{
    sl_raft_log_truncate(((node_ctx_t *)d)->rl, o);
}
static void w_flush(void *d, int64_t o)
{
    sl_raft_log_flush(((node_ctx_t *)d)->rl, o);
}
static void w_save(void *d, const sl_raft_quorum_state_t *s)
{
    sl_raft_log_quorum_state_save(((node_ctx_t *)d)->rl, s);
}

static void cl_start_node(cluster_t *c, int i)
{
    char sub[128], qs[256];
    snprintf(sub, sizeof sub, "%s/n%d", c->w->root, i + 1);
    sl_disk_t *disk = &c->w->disk;
    int rc = disk->ops->exists(disk, sub);
    if (rc == 0)
        assert_int_equal(disk->ops->mkdir(disk, sub), 0);
    assert_int_equal(sl_log_dir_open(sub, c->w->disk, &c->w->clock.ops, &c->dirs[i]), 0);
    snprintf(qs, sizeof qs, "%s/__cluster_metadata-0/quorum-state", sub);
    assert_int_equal(sl_raft_log_open(c->dirs[i], "__cluster_metadata", 0, NULL, qs, &c->rl[i]), 0);
    sl_raft_config_t cfg;
    sl_raft_config_default(&cfg, i + 1);
    for (int v = 0; v < c->n; v++)
        cfg.voters[v] = v + 1;
    cfg.voter_count = c->n;
    sl_raft_log_set_voters(c->rl[i], cfg.voters, cfg.voter_count);
    ctx[i] = (node_ctx_t){c, c->rl[i]};
    sl_raft_env_t env = {&ctx[i], NULL, w_append, w_truncate, w_flush, w_save, NULL};
    env.send = cl_send;
    env.random_u64 = cl_random;
    sl_raft_log_state_t ls;
    const sl_raft_quorum_state_t *persisted;
    sl_raft_log_recovered(c->rl[i], &ls, &persisted);
    assert_int_equal(sl_raft_create(&cfg, &env, persisted, &ls, c->now, &c->raft[i]), 0);
    sl_raft_log_bind(c->rl[i], c->raft[i]);
}

static void cl_stop_node(cluster_t *c, int i)
{
    drain(c->w);
    assert_int_equal(sl_raft_log_close(c->rl[i]), 0);
    sl_raft_destroy(c->raft[i]);
    c->raft[i] = NULL;
    c->rl[i] = NULL;
    bool closed = false;
    sl_log_dir_close(c->dirs[i], dir_closed, &closed);
    for (int k = 0; k < GUARD && !closed; k++)
        uv_run(&c->w->loop, UV_RUN_ONCE);
    assert_true(closed);
}

static void cl_sync_hw(cluster_t *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->raft[i] != NULL)
            sl_raft_log_set_high_watermark(c->rl[i], sl_raft_high_watermark(c->raft[i]));
}

/* Delivers one message; a Fetch answer gets its records from the leader's log first. */
static void cl_deliver(cluster_t *c, sl_raft_msg_t *msg)
{
    int dst = msg->destination_id - 1, src = msg->source_id - 1;
    if (dst < 0 || dst >= c->n || c->raft[dst] == NULL || c->isolated[dst] || c->isolated[src])
        return;
    read_result_t r = {0};
    sl_raft_batch_t batches[64];
    sl_raft_fetch_response_t *fr = &msg->u.fetch_response;
    if (msg->type == SL_RAFT_MSG_FETCH_RESPONSE && fr->records_end_offset > fr->records_offset &&
        c->raft[src] != NULL) {
        sl_log_read_t req;
        int rc = sl_raft_log_read(c->rl[src], &req, fr->records_offset, fr->records_end_offset,
                                  1 << 20, on_read, &r);
        if (rc == 0) {
            for (int k = 0; k < GUARD && !r.done; k++)
                uv_run(&c->w->loop, UV_RUN_ONCE);
            assert_int_equal(r.status, 0);
            fr->batch_count = parse_batches(r.bytes, r.len, batches, 64);
            fr->batches = batches;
        }
    }
    sl_raft_tick(c->raft[dst], c->now);
    sl_raft_receive(c->raft[dst], msg);
    sl_free(r.bytes);
}

/* One step of 10 ms: ticks, every queued message, the disk's completions. */
static void cl_step(cluster_t *c)
{
    c->now += 10;
    for (int i = 0; i < c->n; i++)
        if (c->raft[i] != NULL)
            sl_raft_tick(c->raft[i], c->now);
    while (c->out_count > 0) {
        sl_raft_msg_t batch[OUTBOX_MAX];
        size_t n = c->out_count;
        memcpy(batch, c->outbox, n * sizeof *batch);
        c->out_count = 0;
        for (size_t k = 0; k < n; k++)
            cl_deliver(c, &batch[k]);
    }
    for (int i = 0; i < c->n; i++)
        if (c->raft[i] != NULL)
            sl_raft_tick(c->raft[i], c->now);
    drain(c->w);
    cl_sync_hw(c);
}

static int cl_leader(const cluster_t *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->raft[i] != NULL && sl_raft_role(c->raft[i]) == SL_RAFT_LEADER)
            return i;
    return -1;
}

static int cl_run_until_leader(cluster_t *c)
{
    for (int s = 0; s < 5000 && cl_leader(c) < 0; s++)
        cl_step(c);
    assert_true(cl_leader(c) >= 0);
    return cl_leader(c);
}

static int64_t propose(cluster_t *c, int leader, int32_t count)
{
    size_t len;
    uint8_t *b = test_batch_build(count, 5000, &len);
    int64_t base = -1;
    assert_int_equal(sl_raft_propose(c->raft[leader], count, b, &base), 0);
    sl_free(b);
    return base;
}

static bool all_committed(const cluster_t *c, int64_t end)
{
    for (int i = 0; i < c->n; i++)
        if (c->raft[i] == NULL || sl_raft_high_watermark(c->raft[i]) < end ||
            sl_log_high_watermark(sl_raft_log_log(c->rl[i])) < end)
            return false;
    return true;
}

/* The LeaderChange control record as KRaft writes it: key {version 0, type 2}, value
 * LeaderChangeMessage v0 {Version 0, LeaderId, Voters [{VoterId}], GrantingVoters, no tags}. */
static int check_leader_change(const sl_record_t *rec, void *data)
{
    int32_t leader = *(const int32_t *)data;
    static const uint8_t key[] = {0, 0, 0, 2};
    assert_int_equal(rec->key.len, 4);
    assert_memory_equal(rec->key.ptr, key, 4);
    sl_reader_t r;
    sl_reader_init(&r, rec->value.ptr, rec->value.len);
    int16_t version;
    int32_t leader_id, voter;
    uint32_t n, tags;
    assert_int_equal(sl_read_i16(&r, &version), 0);
    assert_int_equal(version, 0);
    assert_int_equal(sl_read_i32(&r, &leader_id), 0);
    assert_int_equal(leader_id, leader);
    assert_int_equal(sl_read_uvarint(&r, &n), 0);
    assert_int_equal(n, 2); /* one voter */
    assert_int_equal(sl_read_i32(&r, &voter), 0);
    assert_int_equal(voter, leader);
    assert_int_equal(sl_read_uvarint(&r, &tags), 0);
    assert_int_equal(sl_read_uvarint(&r, &n), 0);
    assert_int_equal(n, 2); /* granted by the leader */
    assert_int_equal(sl_read_i32(&r, &voter), 0);
    assert_int_equal(sl_read_uvarint(&r, &tags), 0);
    assert_int_equal(sl_read_uvarint(&r, &tags), 0);
    assert_int_equal(sl_reader_left(&r), 0);
    return 0;
}

static void test_single_voter_commits(void **state)
{
    world_t *w = *state;
    cluster_t *c = calloc(1, sizeof *c);
    *c = (cluster_t){.w = w, .n = 1, .now = 1000, .rng = 42};
    cl_start_node(c, 0);
    int leader = cl_run_until_leader(c);
    assert_int_equal(leader, 0);
    for (int s = 0; s < 100 && sl_raft_high_watermark(c->raft[0]) < 1; s++)
        cl_step(c);
    assert_int_equal(sl_raft_high_watermark(c->raft[0]), 1); /* the LeaderChange batch */

    int64_t base = propose(c, 0, 5);
    assert_int_equal(base, 1);
    assert_int_equal(sl_raft_high_watermark(c->raft[0]), 1); /* not before its flush */
    for (int s = 0; s < 100 && !all_committed(c, 6); s++)
        cl_step(c);
    assert_true(all_committed(c, 6));
    assert_int_equal(sl_raft_flushed_offset(c->raft[0]), 6);

    /* A client of the group's topic reads the committed batches: LeaderChange, then the proposal.
     */
    read_result_t r = client_read_wait(w, sl_raft_log_log(c->rl[0]), 0);
    sl_raft_batch_t got[4];
    assert_int_equal(parse_batches(r.bytes, r.len, got, 4), 2);
    assert_true(got[0].control);
    assert_int_equal(got[0].leader_epoch, sl_raft_epoch(c->raft[0]));
    int32_t leader_id = 1;
    sl_buf_t scratch;
    sl_records_scratch_init(&scratch);
    assert_int_equal(
        sl_records_iterate(got[0].payload, r.len, &scratch, check_leader_change, &leader_id), 0);
    sl_buf_deinit(&scratch);
    assert_int_equal(got[1].base_offset, 1);
    assert_int_equal(got[1].record_count, 5);
    assert_int_equal(got[1].leader_epoch, sl_raft_epoch(c->raft[0]));
    sl_free(r.bytes);

    /* Restart: the log and quorum state bring the node back to the same epoch and log. */
    int32_t epoch = sl_raft_epoch(c->raft[0]);
    cl_stop_node(c, 0);
    cl_start_node(c, 0);
    assert_int_equal(sl_raft_log_end_offset(c->raft[0]), 6);
    assert_true(sl_raft_epoch(c->raft[0]) >= epoch);
    leader = cl_run_until_leader(c);
    assert_true(sl_raft_epoch(c->raft[0]) > epoch);
    base = propose(c, 0, 1);
    assert_int_equal(base, 7); /* after the new epoch's LeaderChange at 6 */
    for (int s = 0; s < 100 && !all_committed(c, 8); s++)
        cl_step(c);
    assert_true(all_committed(c, 8));
    cl_stop_node(c, 0);
    free(c);
}

static void test_three_voters_commit(void **state)
{
    world_t *w = *state;
    cluster_t *c = calloc(1, sizeof *c);
    *c = (cluster_t){.w = w, .n = NODES, .now = 1000, .rng = 7};
    for (int i = 0; i < NODES; i++)
        cl_start_node(c, i);
    int leader = cl_run_until_leader(c);
    int64_t end = 0;
    for (int k = 0; k < 5; k++) {
        int64_t base = propose(c, leader, 3);
        end = base + 3;
    }
    for (int s = 0; s < 2000 && !all_committed(c, end); s++)
        cl_step(c);
    assert_true(all_committed(c, end));

    /* Every replica holds the same bytes. */
    read_result_t ref = read_wait(w, c->rl[leader], 0, end);
    for (int i = 0; i < NODES; i++) {
        read_result_t r = read_wait(w, c->rl[i], 0, end);
        assert_int_equal(r.len, ref.len);
        assert_memory_equal(r.bytes, ref.bytes, ref.len);
        sl_free(r.bytes);
    }
    sl_free(ref.bytes);

    /* A follower restarts from its log and quorum state, and commits with the others again. */
    int follower = (leader + 1) % NODES;
    cl_stop_node(c, follower);
    int64_t base = propose(c, leader, 2);
    for (int s = 0; s < 200 && sl_raft_high_watermark(c->raft[leader]) < base + 2; s++)
        cl_step(c);
    assert_true(sl_raft_high_watermark(c->raft[leader]) >= base + 2); /* two of three suffice */
    cl_start_node(c, follower);
    assert_int_equal(sl_raft_log_end_offset(c->raft[follower]), end);
    for (int s = 0; s < 2000 && !all_committed(c, base + 2); s++)
        cl_step(c);
    assert_true(all_committed(c, base + 2));
    for (int i = 0; i < NODES; i++)
        cl_stop_node(c, i);
    free(c);
}

static bool same_logs(cluster_t *c, int64_t end)
{
    read_result_t ref = read_wait(c->w, c->rl[0], 0, end);
    bool same = true;
    for (int i = 1; i < c->n; i++) {
        read_result_t r = read_wait(c->w, c->rl[i], 0, end);
        same = same && r.len == ref.len && memcmp(r.bytes, ref.bytes, ref.len) == 0;
        sl_free(r.bytes);
    }
    sl_free(ref.bytes);
    return same;
}

/* A deposed leader's uncommitted batches are cut by DivergingEpoch through sl_log_truncate. */
static void test_three_voters_divergence_truncated(void **state)
{
    world_t *w = *state;
    cluster_t *c = calloc(1, sizeof *c);
    *c = (cluster_t){.w = w, .n = NODES, .now = 1000, .rng = 11};
    for (int i = 0; i < NODES; i++)
        cl_start_node(c, i);
    int old = cl_run_until_leader(c);
    int64_t end = propose(c, old, 2) + 2;
    for (int s = 0; s < 2000 && !all_committed(c, end); s++)
        cl_step(c);
    assert_true(all_committed(c, end));

    c->isolated[old] = true;
    int64_t lost = propose(c, old, 4); /* appended and flushed on the old leader only */
    propose(c, old, 4);
    int fresh = -1;
    for (int s = 0; s < 5000 && fresh < 0; s++) {
        cl_step(c);
        for (int i = 0; i < NODES; i++)
            if (i != old && sl_raft_role(c->raft[i]) == SL_RAFT_LEADER)
                fresh = i;
    }
    assert_true(fresh >= 0);
    assert_int_equal(sl_raft_log_end_offset(c->raft[old]), lost + 8);
    int64_t base = propose(c, fresh, 1);
    assert_true(base <= lost + 1); /* its log diverges from the old leader's at 'lost' */
    for (int s = 0; s < 500 && sl_raft_high_watermark(c->raft[fresh]) < base + 1; s++)
        cl_step(c);
    assert_true(sl_raft_high_watermark(c->raft[fresh]) >= base + 1);

    c->isolated[old] = false;
    for (int s = 0;
         s < 5000 && !(all_committed(c, base + 1) && sl_raft_log_end_offset(c->raft[old]) ==
                                                         sl_raft_log_end_offset(c->raft[fresh]));
         s++)
        cl_step(c);
    assert_true(all_committed(c, base + 1));
    assert_int_equal(sl_raft_log_error(c->rl[old]), 0); /* the truncation went through */
    int64_t final_end = sl_raft_log_end_offset(c->raft[fresh]);
    assert_int_equal(sl_log_end_offset(sl_raft_log_log(c->rl[old])), final_end);
    assert_true(same_logs(c, final_end));

    /* And the cut is durable: the old leader restarts with the leader's log, not its own. */
    cl_stop_node(c, old);
    cl_start_node(c, old);
    assert_int_equal(sl_raft_log_end_offset(c->raft[old]), final_end);
    for (int i = 0; i < NODES; i++)
        cl_stop_node(c, i);
    free(c);
}

/* A failed fdatasync under a real core: reported with status < 0, nothing commits afterwards. */
static void test_flush_failure_stops_core(void **state)
{
    world_t *w = *state;
    cluster_t *c = calloc(1, sizeof *c);
    *c = (cluster_t){.w = w, .n = 1, .now = 1000, .rng = 3};
    cl_start_node(c, 0);
    fail_fdatasyncs = 1; /* the LeaderChange batch's flush */
    cl_run_until_leader(c);
    for (int s = 0; s < 200; s++)
        cl_step(c);
    assert_int_equal(sl_raft_log_error(c->rl[0]), -EIO);
    assert_int_equal(sl_raft_high_watermark(c->raft[0]), 0);
    assert_int_equal(sl_raft_flushed_offset(c->raft[0]), 0);
    assert_int_equal(sl_log_high_watermark(sl_raft_log_log(c->rl[0])), 0);
    cl_stop_node(c, 0);
    free(c);
}

/* ---- idempotent producers across a change of leader ---- */

/* A batch of count records from idempotent producer pid at epoch 0 starting at sequence seq. */
static uint8_t *idempotent_batch(int64_t pid, int32_t seq, int32_t count, size_t *len)
{
    uint8_t *b = test_batch_build(count, 1000, len);
    for (int i = 0; i < 8; i++)
        b[43 + i] = (uint8_t)((uint64_t)pid >> (56 - 8 * i)); /* producerId */
    b[51] = b[52] = 0;                                        /* producerEpoch */
    for (int i = 0; i < 4; i++)
        b[53 + i] = (uint8_t)((uint32_t)seq >> (24 - 8 * i)); /* baseSequence */
    test_batch_fix_crc(b, *len);
    return b;
}

static sl_producer_verdict_t check_batch(sl_log_t *log, const uint8_t *b, size_t len,
                                         int64_t *dup_base)
{
    sl_record_batch_t hdr;
    assert_int_equal(sl_record_batch_parse(b, len, &hdr), 0);
    return sl_log_producer_check(log, &hdr, dup_base, NULL);
}

/* A follower appends the leader's batches through the env (as the Raft core does on a Fetch
 * answer): its log records the producers' state too, so once it leads, a producer's retry of a
 * batch the old leader took is a duplicate at the original offset, and the next sequence is
 * checked against it; the same after the follower restarts (state rebuilt from its log). */
static void test_follower_keeps_producer_state(void **state)
{
    world_t *w = *state;
    sl_raft_env_t env;
    sl_raft_log_t *rl = open_rl(w, &env);
    env_append(&env, rl, 2, 1); /* 0..1: a non-idempotent batch first */
    size_t len;
    uint8_t *first = idempotent_batch(4242, 0, 3, &len);
    sl_raft_batch_t batch = batch_of(first, 2, 3, 1); /* 2..4 */
    env.log_append(env.data, &batch, 1);
    flush_and_wait(w, &env, rl);
    for (int round = 0; round < 2; round++) {
        sl_log_t *log = sl_raft_log_log(rl);
        int64_t dup_base = -1;
        assert_int_equal(check_batch(log, first, len, &dup_base), SL_PRODUCER_DUPLICATE);
        assert_int_equal(dup_base, 2);
        size_t next_len;
        uint8_t *next = idempotent_batch(4242, 3, 1, &next_len);
        assert_int_equal(check_batch(log, next, next_len, NULL), SL_PRODUCER_OK);
        sl_free(next);
        uint8_t *gap = idempotent_batch(4242, 5, 1, &next_len);
        assert_int_equal(check_batch(log, gap, next_len, NULL), SL_PRODUCER_OUT_OF_ORDER);
        sl_free(gap);
        /* restart the follower: the state comes back from its log */
        assert_int_equal(sl_raft_log_close(rl), 0);
        world_close_dir(w);
        world_open_dir(w);
        rl = open_rl(w, &env);
    }
    sl_free(first);
    assert_int_equal(sl_raft_log_close(rl), 0);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_quorum_state_json),
        cmocka_unit_test(test_crash_never_reports_unflushed),
        cmocka_unit_test(test_crash_rounds),
        cmocka_unit_test(test_read_cut_under_it),
    };
    const struct CMUnitTest on_disk[] = {
        cmocka_unit_test_setup_teardown(test_append_flush_read_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_keeps_producer_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_across_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_quorum_state_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_voter_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_voters_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_voters_divergence_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_failure_stops_core, setup, teardown),
    };
    sl_log_configure(SL_LOG_WARN, SL_LOG_FORMAT_TEXT);
    int failed = cmocka_run_group_tests_name("raft_log", pure, NULL, NULL);
    use_uring = false;
    failed += cmocka_run_group_tests_name("raft_log on the sync backend", on_disk, NULL, NULL);
    use_uring = true;
    failed += cmocka_run_group_tests_name("raft_log on io_uring", on_disk, NULL, NULL);
    return failed;
}
