/* Unit tests for src/group: the classic rebalance state machine (MEMBER_ID_REQUIRED handshake,
 * join rounds, leader sync, generations, heartbeats, session and rebalance timeouts, the initial
 * delay, LeaveGroup, static membership) and committed offsets, with time driven by a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/group.h"
#include "sluice/protocol.h"

static uint64_t fake_now_ms;
static uint64_t fake_mono(void *data)
{
    (void)data;
    return fake_now_ms;
}
static int64_t fake_wall(void *data)
{
    (void)data;
    return 1700000000000 + (int64_t)fake_now_ms;
}
static const sl_clock_ops_t fake_clock = {fake_mono, fake_wall, NULL};

/* A client's view of one member: its id, and the last answers its waiters got. */
typedef struct {
    sl_group_waiter_t w;
    char id[128];
    int16_t join_error, sync_error;
    int32_t generation;
    bool join_done, sync_done, leader;
    size_t members_count;
    char assignment[32];
} client_t;

static void copy_id(client_t *cl, sl_slice_t id)
{
    size_t n = SL_MIN(id.len, sizeof(cl->id) - 1);
    memcpy(cl->id, id.ptr, n);
    cl->id[n] = '\0';
}

static void on_join(sl_group_waiter_t *w, const sl_group_join_result_t *res)
{
    client_t *cl = w->data;
    cl->join_done = true;
    cl->join_error = res->error;
    cl->generation = res->generation;
    if (res->member_id.len > 0)
        copy_id(cl, res->member_id);
    cl->leader = res->error == 0 && sl_slice_eq(res->leader, res->member_id);
    cl->members_count = res->members_count;
}

static void on_sync(sl_group_waiter_t *w, const sl_group_sync_result_t *res)
{
    client_t *cl = w->data;
    cl->sync_done = true;
    cl->sync_error = res->error;
    size_t n = SL_MIN(res->assignment.len, sizeof(cl->assignment) - 1);
    if (n > 0)
        memcpy(cl->assignment, res->assignment.ptr, n);
    cl->assignment[n] = '\0';
}

static sl_group_coordinator_t *coord_new(int32_t initial_delay_ms)
{
    sl_group_config_t cfg = {.initial_rebalance_delay_ms = initial_delay_ms,
                             .min_session_timeout_ms = 6000,
                             .max_session_timeout_ms = 1800000,
                             .offsets_retention_ms = 7 * 24 * 3600 * 1000LL,
                             .offset_metadata_max_bytes = 4096};
    sl_group_coordinator_t *c = NULL;
    fake_now_ms = 1000;
    assert_int_equal(sl_group_coordinator_create(&cfg, &fake_clock, &c), 0);
    return c;
}

static const sl_group_protocol_t range_proto[] = {
    {{(const uint8_t *)"range", 5}, {(const uint8_t *)"\0\0\0\0\0\0", 6}}};
/* ConsumerProtocolSubscription v0 naming topic "a". */
static const sl_group_protocol_t range_proto_a[] = {
    {{(const uint8_t *)"range", 5}, {(const uint8_t *)"\0\0\0\0\0\1\0\1a", 9}}};
static const sl_group_protocol_t *join_protocols = range_proto;

/* JoinGroup v4+ as a client sends it; instance may be NULL. */
static void join(sl_group_coordinator_t *c, client_t *cl, const char *instance)
{
    cl->w = (sl_group_waiter_t){.join_cb = on_join, .sync_cb = on_sync, .data = cl};
    cl->join_done = false;
    sl_group_join_args_t a = {.group_id = sl_slice_from_str("g"),
                              .member_id = sl_slice_from_str(cl->id),
                              .instance_id = instance ? sl_slice_from_str(instance) : SL_SLICE_NULL,
                              .client_id = sl_slice_from_str("client"),
                              .client_host = sl_slice_from_str("/127.0.0.1"),
                              .protocol_type = sl_slice_from_str("consumer"),
                              .protocols = join_protocols,
                              .protocols_count = 1,
                              .session_timeout_ms = 10000,
                              .rebalance_timeout_ms = 30000,
                              .require_known_member_id = true};
    sl_group_join_result_t res;
    if (sl_group_join(c, &a, &cl->w, &res))
        on_join(&cl->w, &res);
}

static void sync_(sl_group_coordinator_t *c, client_t *cl, client_t **others, size_t n)
{
    sl_slice_t ids[4], parts[4];
    static const char *names[] = {"p0", "p1", "p2", "p3"};
    for (size_t i = 0; i < n; i++) {
        ids[i] = sl_slice_from_str(others[i]->id);
        parts[i] = sl_slice_from_str(names[i]);
    }
    cl->sync_done = false;
    sl_group_sync_args_t a = {.group_id = sl_slice_from_str("g"),
                              .member_id = sl_slice_from_str(cl->id),
                              .generation = cl->generation,
                              .assignment_members = ids,
                              .assignments = parts,
                              .assignments_count = n};
    sl_group_sync_result_t res;
    if (sl_group_sync(c, &a, &cl->w, &res))
        on_sync(&cl->w, &res);
}

static int16_t beat(sl_group_coordinator_t *c, client_t *cl)
{
    return sl_group_heartbeat(c, sl_slice_from_str("g"), sl_slice_from_str(cl->id), SL_SLICE_NULL,
                              cl->generation);
}

static sl_group_state_t state_of(sl_group_coordinator_t *c)
{
    sl_group_view_t v;
    assert_true(sl_group_describe(c, sl_slice_from_str("g"), &v));
    return v.state;
}

/* One member: MEMBER_ID_REQUIRED, then a join that completes at once, then a sync. */
static void test_single_member(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    client_t a = {0};
    join(c, &a, NULL);
    assert_true(a.join_done);
    assert_int_equal(a.join_error, SL_KERR_MEMBER_ID_REQUIRED);
    assert_true(strncmp(a.id, "client-", 7) == 0);
    join(c, &a, NULL);
    assert_true(a.join_done);
    assert_int_equal(a.join_error, 0);
    assert_int_equal(a.generation, 1);
    assert_true(a.leader);
    assert_int_equal(a.members_count, 1);
    assert_int_equal(state_of(c), SL_GROUP_COMPLETING_REBALANCE);
    assert_int_equal(beat(c, &a), 0);
    client_t *all[] = {&a};
    sync_(c, &a, all, 1);
    assert_true(a.sync_done);
    assert_string_equal(a.assignment, "p0");
    assert_int_equal(state_of(c), SL_GROUP_STABLE);
    client_t stale = a;
    stale.generation = 0;
    assert_int_equal(beat(c, &stale), SL_KERR_ILLEGAL_GENERATION);
    client_t unknown = a;
    strcpy(unknown.id, "nobody");
    assert_int_equal(beat(c, &unknown), SL_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(
        sl_group_leave(c, sl_slice_from_str("g"), sl_slice_from_str(a.id), SL_SLICE_NULL), 0);
    assert_int_equal(state_of(c), SL_GROUP_EMPTY);
    sl_group_coordinator_destroy(c);
}

/* Brings a and b to a stable generation together. */
static void two_stable(sl_group_coordinator_t *c, client_t *a, client_t *b)
{
    join(c, a, NULL);
    join(c, a, NULL);
    client_t *one[] = {a};
    sync_(c, a, one, 1);
    join(c, b, NULL);
    join(c, b, NULL); /* b waits: a must rejoin */
    assert_false(b->join_done);
    assert_int_equal(beat(c, a), SL_KERR_REBALANCE_IN_PROGRESS);
    join(c, a, NULL);
    assert_true(a->join_done && b->join_done);
    assert_int_equal(a->generation, 2);
    assert_int_equal(b->generation, 2);
    assert_true(a->leader);
    assert_false(b->leader);
    assert_int_equal(a->members_count, 2);
    sync_(c, b, NULL, 0);
    assert_false(b->sync_done); /* waits for the leader */
    client_t *both[] = {a, b};
    sync_(c, a, both, 2);
    assert_true(a->sync_done && b->sync_done);
    assert_string_equal(a->assignment, "p0");
    assert_string_equal(b->assignment, "p1");
}

static void test_two_members_and_session_expiry(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    client_t a = {0}, b = {0};
    two_stable(c, &a, &b);
    /* b stops heartbeating: after its session timeout the group rebalances without it */
    fake_now_ms += 6000;
    assert_int_equal(beat(c, &a), 0);
    fake_now_ms += 5000;
    sl_group_coordinator_tick(c);
    assert_int_equal(state_of(c), SL_GROUP_PREPARING_REBALANCE);
    assert_int_equal(beat(c, &a), SL_KERR_REBALANCE_IN_PROGRESS);
    join(c, &a, NULL);
    assert_true(a.join_done);
    assert_int_equal(a.generation, 3);
    assert_int_equal(a.members_count, 1);
    assert_int_equal(beat(c, &b), SL_KERR_UNKNOWN_MEMBER_ID);
    sl_group_coordinator_destroy(c);
}

static void test_rebalance_timeout_drops_silent_member(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    client_t a = {0}, b = {0}, d = {0};
    two_stable(c, &a, &b);
    join(c, &d, NULL);
    join(c, &d, NULL);
    join(c, &a, NULL);
    assert_false(a.join_done);
    /* b keeps heartbeating but never rejoins: the 30 s rebalance timeout removes it */
    for (int i = 0; i < 10; i++) {
        fake_now_ms += 3000;
        assert_int_equal(beat(c, &b), SL_KERR_REBALANCE_IN_PROGRESS);
        sl_group_coordinator_tick(c);
    }
    fake_now_ms += 1;
    sl_group_coordinator_tick(c);
    assert_true(a.join_done && d.join_done);
    assert_int_equal(a.members_count, 2);
    assert_int_equal(a.generation, 3);
    assert_int_equal(beat(c, &b), SL_KERR_UNKNOWN_MEMBER_ID);
    sl_group_coordinator_destroy(c);
}

static void test_initial_delay(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(3000);
    client_t a = {0}, b = {0};
    join(c, &a, NULL);
    join(c, &a, NULL);
    assert_false(a.join_done);
    uint64_t next = sl_group_coordinator_tick(c);
    assert_int_equal(next, fake_now_ms + 3000);
    fake_now_ms += 2000;
    join(c, &b, NULL);
    join(c, &b, NULL);
    fake_now_ms += 1000;
    sl_group_coordinator_tick(c); /* b joined during the delay: another delay */
    assert_false(a.join_done);
    fake_now_ms += 3000;
    sl_group_coordinator_tick(c);
    assert_true(a.join_done && b.join_done);
    assert_int_equal(a.members_count, 2);
    sl_group_coordinator_destroy(c);
}

static void test_static_member_keeps_assignment(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    client_t a = {0}, b = {0};
    join(c, &a, "pod-a");
    assert_int_equal(a.join_error, 0); /* static members skip MEMBER_ID_REQUIRED */
    client_t *one[] = {&a};
    sync_(c, &a, one, 1);
    join(c, &b, "pod-b");
    join(c, &a, "pod-a");
    client_t *both[] = {&a, &b};
    sync_(c, &b, NULL, 0);
    sync_(c, &a, both, 2);
    assert_string_equal(b.assignment, "p1");
    int32_t gen = b.generation;
    /* pod-b restarts: a new member id, the same generation and assignment, no rebalance */
    client_t b2 = {0};
    join(c, &b2, "pod-b");
    assert_true(b2.join_done);
    assert_int_equal(b2.join_error, 0);
    assert_int_equal(b2.generation, gen);
    assert_string_not_equal(b2.id, b.id);
    assert_int_equal(state_of(c), SL_GROUP_STABLE);
    sync_(c, &b2, NULL, 0);
    assert_string_equal(b2.assignment, "p1");
    assert_int_equal(beat(c, &a), 0);
    assert_int_equal(sl_group_heartbeat(c, sl_slice_from_str("g"), sl_slice_from_str(b.id),
                                        sl_slice_from_str("pod-b"), gen),
                     SL_KERR_FENCED_INSTANCE_ID);
    sl_group_coordinator_destroy(c);
}

static void test_errors(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    client_t a = {0};
    a.w = (sl_group_waiter_t){.join_cb = on_join, .data = &a};
    sl_group_join_args_t args = {.group_id = sl_slice_from_str(""),
                                 .protocol_type = sl_slice_from_str("consumer"),
                                 .protocols = range_proto,
                                 .protocols_count = 1,
                                 .session_timeout_ms = 10000};
    sl_group_join_result_t res;
    assert_true(sl_group_join(c, &args, &a.w, &res));
    assert_int_equal(res.error, SL_KERR_INVALID_GROUP_ID);
    args.group_id = sl_slice_from_str("g");
    args.session_timeout_ms = 10;
    assert_true(sl_group_join(c, &args, &a.w, &res));
    assert_int_equal(res.error, SL_KERR_INVALID_SESSION_TIMEOUT);
    args.session_timeout_ms = 10000;
    args.member_id = sl_slice_from_str("ghost");
    assert_true(sl_group_join(c, &args, &a.w, &res));
    assert_int_equal(res.error, SL_KERR_UNKNOWN_MEMBER_ID);
    args.member_id = SL_SLICE_NULL;
    args.protocols_count = 0;
    assert_true(sl_group_join(c, &args, &a.w, &res));
    assert_int_equal(res.error, SL_KERR_INCONSISTENT_GROUP_PROTOCOL);
    /* a different protocol type than the group's members */
    join(c, &a, NULL);
    join(c, &a, NULL);
    args.protocols_count = 1;
    args.protocol_type = sl_slice_from_str("connect");
    assert_true(sl_group_join(c, &args, &a.w, &res));
    assert_int_equal(res.error, SL_KERR_INCONSISTENT_GROUP_PROTOCOL);
    assert_int_equal(sl_group_delete(c, sl_slice_from_str("g")), SL_KERR_NON_EMPTY_GROUP);
    assert_int_equal(sl_group_delete(c, sl_slice_from_str("nope")), SL_KERR_GROUP_ID_NOT_FOUND);
    /* pending waiters are answered at shutdown */
    client_t b = {0};
    join(c, &b, NULL);
    join(c, &b, NULL);
    assert_false(b.join_done);
    sl_group_coordinator_abort(c, SL_KERR_NOT_COORDINATOR);
    assert_true(b.join_done);
    assert_int_equal(b.join_error, SL_KERR_NOT_COORDINATOR);
    sl_group_coordinator_destroy(c);
}

static bool collect(sl_slice_t topic, int32_t partition, const sl_group_offset_t *o, void *data)
{
    char *out = data;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%.*s/%d=%lld;", (int)topic.len, (const char *)topic.ptr,
             (int)partition, (long long)o->offset);
    return true;
}

static void test_offsets(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    sl_slice_t g = sl_slice_from_str("g");
    assert_int_equal(sl_group_commit_check(c, g, -1, sl_slice_from_str(""), SL_SLICE_NULL), 0);
    const char *topics[] = {"b", "a", "b", "a"};
    int32_t parts[] = {1, 0, 0, 2};
    for (int i = 0; i < 4; i++) {
        sl_group_offset_t o = {10 + i, 5, sl_slice_from_str("meta"), 123};
        assert_int_equal(sl_group_offset_put(c, g, sl_slice_from_str(topics[i]), parts[i], &o), 0);
    }
    sl_group_offset_t o2 = {99, 7, sl_slice_from_str(""), 124};
    assert_int_equal(sl_group_offset_put(c, g, sl_slice_from_str("b"), 1, &o2), 0);
    char listed[256] = "";
    sl_group_offsets_each(c, g, collect, listed);
    assert_string_equal(listed, "a/0=11;a/2=13;b/0=12;b/1=99;");
    sl_group_offset_t got;
    assert_true(sl_group_offset_get(c, g, sl_slice_from_str("b"), 1, &got));
    assert_int_equal(got.leader_epoch, 7);
    assert_true(sl_group_offset_delete(c, g, sl_slice_from_str("a"), 2));
    assert_false(sl_group_offset_get(c, g, sl_slice_from_str("a"), 2, &got));
    /* a member-less commit with a generation is refused; the group is Empty */
    assert_int_equal(sl_group_commit_check(c, g, 3, sl_slice_from_str("m"), SL_SLICE_NULL),
                     SL_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(state_of(c), SL_GROUP_EMPTY);
    /* offsets.retention.minutes after emptying, the group and its offsets go */
    fake_now_ms += 7 * 24 * 3600 * 1000LL;
    sl_group_coordinator_tick(c);
    sl_group_view_t v;
    assert_false(sl_group_describe(c, g, &v));
    sl_group_coordinator_destroy(c);
}

typedef struct {
    int count;
    char last[64];
} expired_t;

static void on_offset_expired(sl_group_coordinator_t *c, sl_slice_t group_id, sl_slice_t topic,
                              int32_t partition, void *data)
{
    (void)c;
    expired_t *e = data;
    e->count++;
    snprintf(e->last, sizeof e->last, "%.*s:%.*s/%d", (int)group_id.len, (const char *)group_id.ptr,
             (int)topic.len, (const char *)topic.ptr, (int)partition);
}

/* KIP-211: in a Stable consumer group, an offset of a topic no member subscribes to expires
 * offsets.retention.minutes after its commit; an offset of a subscribed topic does not. */
static void test_unsubscribed_offsets_expire_in_stable_group(void **state)
{
    (void)state;
    sl_group_config_t cfg = {.min_session_timeout_ms = 6000,
                             .max_session_timeout_ms = 1800000,
                             .offsets_retention_ms = 60000,
                             .offset_metadata_max_bytes = 4096};
    sl_group_coordinator_t *c = NULL;
    fake_now_ms = 1000;
    assert_int_equal(sl_group_coordinator_create(&cfg, &fake_clock, &c), 0);
    expired_t expired = {0};
    sl_group_set_offset_expired_cb(c, on_offset_expired, &expired);
    join_protocols = range_proto_a;
    client_t a = {0};
    join(c, &a, NULL);
    join(c, &a, NULL);
    client_t *all[] = {&a};
    sync_(c, &a, all, 1);
    join_protocols = range_proto;
    assert_int_equal(state_of(c), SL_GROUP_STABLE);
    sl_slice_t g = sl_slice_from_str("g");
    int64_t wall = 1700000000000 + (int64_t)fake_now_ms;
    sl_group_offset_t o = {5, -1, sl_slice_from_str(""), wall};
    assert_int_equal(sl_group_offset_put(c, g, sl_slice_from_str("a"), 0, &o), 0);
    assert_int_equal(sl_group_offset_put(c, g, sl_slice_from_str("b"), 0, &o), 0);
    for (int i = 0; i < 11; i++) { /* 55 s: not yet */
        fake_now_ms += 5000;
        assert_int_equal(beat(c, &a), 0);
        sl_group_coordinator_tick(c);
    }
    assert_int_equal(expired.count, 0);
    for (int i = 0; i < 2; i++) { /* 65 s */
        fake_now_ms += 5000;
        assert_int_equal(beat(c, &a), 0);
        sl_group_coordinator_tick(c);
    }
    assert_int_equal(expired.count, 1);
    assert_string_equal(expired.last, "g:b/0");
    sl_group_offset_t got;
    assert_false(sl_group_offset_get(c, g, sl_slice_from_str("b"), 0, &got));
    assert_true(sl_group_offset_get(c, g, sl_slice_from_str("a"), 0, &got));
    assert_int_equal(state_of(c), SL_GROUP_STABLE);
    sl_group_coordinator_destroy(c);
}

/* A joins preferring range, B preferring roundrobin, C offers only roundrobin: roundrobin. */
static void test_protocol_selection(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    static const sl_group_protocol_t ab[] = {{{(const uint8_t *)"range", 5}, {NULL, 0}},
                                             {{(const uint8_t *)"roundrobin", 10}, {NULL, 0}}};
    static const sl_group_protocol_t rr[] = {{{(const uint8_t *)"roundrobin", 10}, {NULL, 0}}};
    client_t cl[3];
    memset(cl, 0, sizeof(cl));
    const sl_group_protocol_t *offers[] = {ab, ab, rr};
    size_t counts[] = {2, 2, 1};
    for (int i = 0; i < 3; i++) {
        cl[i].w = (sl_group_waiter_t){.join_cb = on_join, .sync_cb = on_sync, .data = &cl[i]};
        sl_group_join_args_t a = {.group_id = sl_slice_from_str("g"),
                                  .client_id = sl_slice_from_str("c"),
                                  .client_host = sl_slice_from_str("h"),
                                  .protocol_type = sl_slice_from_str("consumer"),
                                  .protocols = offers[i],
                                  .protocols_count = counts[i],
                                  .session_timeout_ms = 10000,
                                  .rebalance_timeout_ms = 10000};
        sl_group_join_result_t res;
        if (sl_group_join(c, &a, &cl[i].w, &res))
            on_join(&cl[i].w, &res);
    }
    /* v0-3 joins (no handshake): the first completed alone; the round with all three waits for
     * the first to rejoin, which the rebalance timeout forces */
    fake_now_ms += 10001;
    sl_group_coordinator_tick(c);
    sl_group_view_t v;
    assert_true(sl_group_describe(c, sl_slice_from_str("g"), &v));
    assert_int_equal(v.state, SL_GROUP_COMPLETING_REBALANCE);
    assert_int_equal(v.members_count, 2); /* the first member never rejoined: dropped */
    assert_true(cl[1].join_done && cl[1].leader);
    sync_(c, &cl[1], NULL, 0);
    assert_true(sl_group_describe(c, sl_slice_from_str("g"), &v));
    assert_int_equal(v.state, SL_GROUP_STABLE);
    assert_true(sl_slice_eq_str(v.protocol_name, "roundrobin"));
    sl_group_coordinator_destroy(c);
}

/* A group metadata record brings back a Stable group whose members carry on (then expire). */
static void test_restore(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    sl_group_member_view_t m = {.member_id = sl_slice_from_str("m-1"),
                                .instance_id = SL_SLICE_NULL,
                                .client_id = sl_slice_from_str("c"),
                                .client_host = sl_slice_from_str("/h"),
                                .metadata = sl_slice_from_str("sub"),
                                .assignment = sl_slice_from_str("p0"),
                                .session_timeout_ms = 10000,
                                .rebalance_timeout_ms = 10000};
    assert_int_equal(sl_group_restore(c, sl_slice_from_str("g"), sl_slice_from_str("consumer"),
                                      sl_slice_from_str("range"), sl_slice_from_str("m-1"), 7, &m,
                                      1),
                     0);
    assert_int_equal(state_of(c), SL_GROUP_STABLE);
    client_t a = {0};
    strcpy(a.id, "m-1");
    a.generation = 7;
    a.w = (sl_group_waiter_t){.join_cb = on_join, .sync_cb = on_sync, .data = &a};
    assert_int_equal(beat(c, &a), 0);
    sync_(c, &a, NULL, 0);
    assert_string_equal(a.assignment, "p0");
    fake_now_ms += 10001;
    sl_group_coordinator_tick(c);
    assert_int_equal(state_of(c), SL_GROUP_EMPTY); /* expired, and the round ended empty */
    sl_group_coordinator_destroy(c);
}

static int changed_calls;
static void count_changed(sl_group_coordinator_t *c, sl_slice_t group_id, bool deleted, void *data)
{
    (void)c, (void)group_id, (void)deleted, (void)data; /* counted only */
    changed_calls++;
}

/* Leadership of g's __consumer_offsets partition moves away: g goes with its offsets, its waiting
 * join is answered NOT_COORDINATOR, nothing is written (no changed callback); a group of another
 * partition stays. */
static void test_unload_partition(void **state)
{
    (void)state;
    sl_group_coordinator_t *c = coord_new(0);
    changed_calls = 0;
    const int32_t partitions = 50;
    int32_t gp = sl_group_partition_for(sl_slice_from_str("g"), partitions);
    const char *other =
        sl_group_partition_for(sl_slice_from_str("h"), partitions) != gp ? "h" : "i";
    assert_int_not_equal(sl_group_partition_for(sl_slice_from_str(other), partitions), gp);
    sl_group_offset_t o = {.offset = 42, .leader_epoch = -1, .metadata = sl_slice_from_str("")};
    assert_int_equal(
        sl_group_offset_put(c, sl_slice_from_str(other), sl_slice_from_str("t"), 0, &o), 0);
    assert_int_equal(sl_group_offset_put(c, sl_slice_from_str("g"), sl_slice_from_str("t"), 0, &o),
                     0);
    client_t a = {0}, b = {0};
    join(c, &a, NULL);
    join(c, &a, NULL);
    assert_int_equal(a.join_error, 0);
    join(c, &b, NULL);
    join(c, &b, NULL); /* waits for a to rejoin */
    assert_false(b.join_done);
    sl_group_set_changed_cb(c, count_changed, NULL);
    assert_int_equal(sl_group_coordinator_unload(c, gp, partitions, SL_KERR_NOT_COORDINATOR), 1);
    assert_true(b.join_done);
    assert_int_equal(b.join_error, SL_KERR_NOT_COORDINATOR);
    assert_int_equal(changed_calls, 0);
    sl_group_view_t v;
    assert_false(sl_group_describe(c, sl_slice_from_str("g"), &v));
    sl_group_offset_t got;
    assert_false(sl_group_offset_get(c, sl_slice_from_str("g"), sl_slice_from_str("t"), 0, &got));
    assert_true(sl_group_offset_get(c, sl_slice_from_str(other), sl_slice_from_str("t"), 0, &got));
    assert_int_equal(got.offset, 42);
    assert_int_equal(sl_group_coordinator_unload(c, gp, partitions, SL_KERR_NOT_COORDINATOR), 0);
    sl_group_coordinator_destroy(c);
}

static void test_partition_for(void **state)
{
    (void)state;
    /* abs(Java String.hashCode) % 50 */
    assert_int_equal(sl_group_partition_for(sl_slice_from_str("my-group"), 50), 12);
    assert_int_equal(sl_group_partition_for(sl_slice_from_str("console-consumer-12345"), 50), 6);
    assert_int_equal(sl_group_partition_for(sl_slice_from_str("g"), 50), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_member),
        cmocka_unit_test(test_two_members_and_session_expiry),
        cmocka_unit_test(test_rebalance_timeout_drops_silent_member),
        cmocka_unit_test(test_initial_delay),
        cmocka_unit_test(test_static_member_keeps_assignment),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_protocol_selection),
        cmocka_unit_test(test_unsubscribed_offsets_expire_in_stable_group),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_partition_for),
        cmocka_unit_test(test_unload_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
