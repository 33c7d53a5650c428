/* Unit tests for src/replication/replica_manager.c: the ISR and durable-copy rules as pure
 * functions, and the data path of a real partition group on a real loop, log dir and disk
 * backend: a one-replica partition elects itself, answers acks=all at the high watermark and
 * acks=1 after its flush, exposes only what is committed; a partition whose other replicas
 * cannot be reached never leads and refuses appends; stopping with delete removes its directory.
 * (Three replicas across real processes: tests/integration/test_partition_replication.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "batch_builder.h"
#include "replication/replica_manager.h"
#include "sluice/io.h"

#define GUARD 100000

/* ---- pure parts ------------------------------------------------------------------------------ */

static sl_raft_quorum_info_t three_voters(void)
{
    sl_raft_quorum_info_t info;
    memset(&info, 0, sizeof info);
    info.voter_count = 3;
    /* node 1 leads; node 2 caught up 100 ms ago and fetched at 50; node 3 never caught up */
    info.voters[0] = (sl_raft_replica_state_t){1, 60, 10000, 10000};
    info.voters[1] = (sl_raft_replica_state_t){2, 50, 9950, 9900};
    info.voters[2] = (sl_raft_replica_state_t){3, 20, 9990, 0};
    return info;
}

static void test_isr_is_the_leader_and_the_caught_up(void **state)
{
    (void)state;
    sl_raft_quorum_info_t info = three_voters();
    int32_t isr[SL_RAFT_VOTERS_MAX];
    assert_int_equal(sl__replica_isr(&info, 1, 10000, 30000, isr), 2);
    assert_int_equal(isr[0], 1);
    assert_int_equal(isr[1], 2);
    /* node 2 falls out once replica.lag.time.max.ms has passed since it was caught up */
    assert_int_equal(sl__replica_isr(&info, 1, 9900 + 30000, 30000, isr), 2);
    assert_int_equal(sl__replica_isr(&info, 1, 9900 + 30001, 30000, isr), 1);
    assert_int_equal(isr[0], 1);
    /* a clock behind the replica's time counts nothing (never negative lags) */
    assert_int_equal(sl__replica_isr(&info, 1, 100, 30000, isr), 1);
}

static void test_durable_copies(void **state)
{
    (void)state;
    sl_raft_quorum_info_t info = three_voters();
    /* the leader by its flushed offset (not its log end), the others by their fetch offsets */
    assert_int_equal(sl__replica_durable_count(&info, 1, 60, 20), 3);
    assert_int_equal(sl__replica_durable_count(&info, 1, 60, 50), 2);
    assert_int_equal(sl__replica_durable_count(&info, 1, 40, 50), 1);
    assert_int_equal(sl__replica_durable_count(&info, 1, 60, 61), 0);
}

/* ---- a real partition group ------------------------------------------------------------------ */

typedef struct {
    char root[64];
    uv_loop_t loop;
    sl_disk_t disk;
    sl_log_dir_t *dir;
    sl_config_t cfg;
    sl_replica_manager_t *mgr;
    int changes;
} world_t;

typedef struct {
    sl_replica_append_t req;
    bool done;
    sl_kerr_t error;
} append_t;

static void changed(sl_partition_replica_t *replica, void *owner, void *data)
{
    (void)replica, (void)owner;
    ((world_t *)data)->changes++;
}

static void append_done(sl_replica_append_t *req, sl_kerr_t error, void *data)
{
    append_t *a = data;
    assert_ptr_equal(req, &a->req);
    assert_false(a->done); /* exactly once */
    a->done = true;
    a->error = error;
}

static void run_until(world_t *w, const bool *flag)
{
    for (int i = 0; i < GUARD && !*flag; i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_true(*flag);
}

static bool leads(const sl_partition_replica_t *r)
{
    sl_partition_replica_state_t st;
    sl_partition_replica_state(r, &st);
    return st.leader;
}

static void run_until_leader(world_t *w, const sl_partition_replica_t *r)
{
    for (int i = 0; i < GUARD && !leads(r); i++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_true(leads(r));
}

static int setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    snprintf(w->root, sizeof w->root, "/tmp/sl_replica_manager_XXXXXX");
    assert_non_null(mkdtemp(w->root));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    assert_int_equal(sl_disk_sync_init(&w->loop, &w->disk), 0);
    assert_int_equal(sl_log_dir_open(w->root, w->disk, &sl_clock_system, &w->dir), 0);
    sl_config_init_defaults(&w->cfg);
    w->cfg.node_id = 1;
    w->cfg.controller_quorum_election_timeout_ms = 50; /* short: the test waits for elections */
    w->cfg.controller_quorum_election_backoff_max_ms = 50;
    w->cfg.replica_lag_time_max_ms = 30000;
    assert_int_equal(sl_replica_manager_create(&w->loop, &w->cfg, changed, w, &w->mgr), 0);
    *state = w;
    return 0;
}

static void flag_done(void *data)
{
    *(bool *)data = true;
}

static void dir_closed(sl_log_dir_t *dir, void *data)
{
    (void)dir;
    *(bool *)data = true;
}

static int teardown(void **state)
{
    world_t *w = *state;
    bool closed = false;
    sl_replica_manager_close(w->mgr, flag_done, &closed);
    run_until(w, &closed);
    bool dir_done = false;
    sl_log_dir_close(w->dir, dir_closed, &dir_done);
    run_until(w, &dir_done);
    sl_disk_deinit(&w->disk);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    sl_config_deinit(&w->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w->root);
    assert_int_equal(system(cmd), 0);
    free(w);
    return 0;
}

static sl_partition_replica_t *start(world_t *w, const char *topic, const int32_t *replicas,
                                     int32_t count)
{
    sl_partition_replica_spec_t spec = {.dir = w->dir,
                                        .dir_path = w->root,
                                        .topic = topic,
                                        .partition = 0,
                                        .min_insync_replicas = 2,
                                        .owner = w};
    sl_partition_replica_t *r = NULL;
    assert_int_equal(sl_replica_manager_start_partition(w->mgr, &spec, replicas, count, &r), 0);
    return r;
}

static void test_one_replica_commits_and_answers(void **state)
{
    world_t *w = *state;
    const int32_t self[] = {1};
    sl_partition_replica_t *r = start(w, "solo", self, 1);
    run_until_leader(w, r);
    sl_log_t *log = sl_partition_replica_log(r);
    int64_t start_offset = sl_log_end_offset(log); /* after the leader's LeaderChange batch */

    size_t len = 0;
    uint8_t *batch = test_batch_build(3, 1700000000000, &len);
    append_t all = {0}, one = {0};
    int64_t base_all = -1, base_one = -1;
    assert_int_equal(
        sl_partition_replica_append(r, &all.req, batch, len, -1, append_done, &all, &base_all),
        SL_KERR_NONE);
    assert_false(all.done); /* never inside the call */
    assert_int_equal(base_all, start_offset);
    sl_free(batch); /* the log keeps its own copy */
    batch = test_batch_build(2, 1700000000000, &len);
    assert_int_equal(
        sl_partition_replica_append(r, &one.req, batch, len, 1, append_done, &one, &base_one),
        SL_KERR_NONE);
    assert_int_equal(base_one, start_offset + 3);
    sl_free(batch);
    run_until(w, &all.done);
    run_until(w, &one.done);
    assert_int_equal(all.error, SL_KERR_NONE);
    assert_int_equal(one.error, SL_KERR_NONE);
    /* acks=all was answered at the high watermark: what consumers see covers it */
    assert_true(sl_log_high_watermark(log) >= start_offset + 3);
    sl_partition_replica_state_t st;
    sl_partition_replica_state(r, &st);
    assert_true(st.leader);
    assert_int_equal(st.leader_id, 1);
    assert_int_equal(st.isr_count, 1);
    assert_true(sl_replica_manager_caught_up(w->mgr));
    int64_t under = -1, offline = -1;
    uint64_t shrinks = 1, expands = 1;
    sl_replica_manager_stats(w->mgr, &under, &offline, &shrinks, &expands);
    assert_int_equal(under, 0);
    assert_int_equal(offline, 0);
}

static void test_unreachable_replicas_never_lead(void **state)
{
    world_t *w = *state;
    const int32_t three[] = {1, 2, 3};
    sl_partition_replica_t *r = start(w, "lonely", three, 3);
    for (int i = 0; i < 200; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
    assert_false(leads(r));
    size_t len = 0;
    uint8_t *batch = test_batch_build(1, 1700000000000, &len);
    append_t a = {0};
    int64_t base = -1;
    assert_int_equal(sl_partition_replica_append(r, &a.req, batch, len, -1, append_done, &a, &base),
                     SL_KERR_NOT_LEADER_OR_FOLLOWER);
    sl_free(batch);
    int64_t under = -1, offline = -1;
    uint64_t shrinks, expands;
    sl_replica_manager_stats(w->mgr, &under, &offline, &shrinks, &expands);
    assert_int_equal(offline, 1); /* no leader known */
    assert_false(sl_replica_manager_caught_up(w->mgr));
    /* stopped with delete: its directory goes */
    sl_replica_manager_stop_partition(w->mgr, r, true);
    char path[128];
    snprintf(path, sizeof path, "%s/lonely-0", w->root);
    struct stat st;
    for (int i = 0; i < 1000 && stat(path, &st) == 0; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
    assert_int_not_equal(stat(path, &st), 0);
}

static void test_replicas_without_this_node_refused(void **state)
{
    world_t *w = *state;
    const int32_t others[] = {2, 3};
    sl_partition_replica_spec_t spec = {.dir = w->dir, .dir_path = w->root, .topic = "x"};
    sl_partition_replica_t *r = NULL;
    assert_int_not_equal(sl_replica_manager_start_partition(w->mgr, &spec, others, 2, &r), 0);
    assert_null(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isr_is_the_leader_and_the_caught_up),
        cmocka_unit_test(test_durable_copies),
        cmocka_unit_test_setup_teardown(test_one_replica_commits_and_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_replicas_never_lead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicas_without_this_node_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
