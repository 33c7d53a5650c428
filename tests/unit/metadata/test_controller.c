/* test_controller: the controller's decisions, each applied to the image as the quorum would.
 * Placement properties over many broker/rack layouts and seeds; topic and partition creation and
 * their errors; registration, heartbeats and fencing on a fake clock (leaders move only within
 * the ISR; the last ISR member stays; unclean election only when enabled); AlterPartition;
 * preferred election; reassignment start, completion and cancel; producer id blocks. */
#include <stdio.h>
#include <string.h>

#include "test_support.h"

typedef struct {
    sl_arena_t arena;
    sl_metadata_records_t list;
    sl_metadata_image_t img;
    sl_metadata_sessions_t sessions;
    sl_metadata_policy_t policy;
    int64_t now_ms;
    uint8_t next_topic_id;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = test_calloc(1, sizeof *f);
    sl_arena_init(&f->arena, TEST_ARENA_BYTES);
    sl_metadata_records_init(&f->list, &f->arena);
    sl_metadata_image_init(&f->img);
    sl_metadata_sessions_init(&f->sessions);
    f->policy = (sl_metadata_policy_t){.default_partitions = 1,
                                       .default_replication_factor = 3,
                                       .unclean_leader_election_enable = false,
                                       .broker_session_timeout_ms = 9000};
    f->now_ms = 1000000;
    f->next_topic_id = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sl_metadata_sessions_deinit(&f->sessions);
    sl_metadata_image_deinit(&f->img);
    sl_arena_deinit(&f->arena);
    test_free(f);
    return 0;
}

/* Applies what the last decision produced and starts a fresh list; returns how many records. */
static size_t commit(fixture_t *f)
{
    size_t n = f->list.count;
    test_apply_all(&f->img, &f->list);
    sl_arena_reset(&f->arena);
    sl_metadata_records_init(&f->list, &f->arena);
    return n;
}

static void expect_ok(sl_metadata_result_t r)
{
    if (r.error != 0)
        fail_msg("decision refused: %s: %s", sl_kerr_name(r.error), r.message);
}

static sl_metadata_topic_t *create(fixture_t *f, const char *name, int32_t partitions, int16_t rf,
                                   uint32_t seed)
{
    sl_metadata_create_topic_t req = {
        .name = sl_slice_from_str(name), .partition_count = partitions, .replication_factor = rf};
    memset(req.topic_id.bytes, f->next_topic_id++, 16);
    expect_ok(sl_metadata_create_topic(&f->img, &f->policy, &req, seed, &f->list));
    commit(f);
    sl_metadata_topic_t *t = sl_metadata_topic_find(&f->img, sl_slice_from_str(name));
    assert_non_null(t);
    return t;
}

static void brokers(fixture_t *f, int32_t count)
{
    for (int32_t b = 1; b <= count; b++) {
        test_add_broker(&f->img, b, NULL);
        assert_int_equal(sl_metadata_sessions_touch(&f->sessions, b, f->now_ms), 0);
    }
}

/* ---- placement ------------------------------------------------------------------------------- */

static const char *rack_of(const sl_metadata_image_t *img, int32_t id)
{
    return sl_metadata_broker_find(img, id)->rack;
}

static bool rack_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Over layouts of 1-12 brokers in 1-4 racks (uneven, some without a rack, some fenced) and many
 * seeds: replicas on distinct active brokers, as many racks as possible (every rack once before
 * any twice), leaders within one of each other. */
static void test_placement_properties(void **state)
{
    (void)state;
    static const char *const rack_names[] = {"r0", "r1", "r2", "r3"};
    int layouts = 0;
    for (int32_t n = 1; n <= 12; n++) {
        for (int32_t racks = 1; racks <= 4; racks++) {
            for (int32_t variant = 0; variant < 3; variant++) {
                sl_metadata_image_t img;
                sl_metadata_image_init(&img);
                int32_t active = 0;
                for (int32_t b = 1; b <= n; b++) {
                    /* variant 0: round robin racks; 1: skewed to rack 0; 2: no rack for some */
                    int32_t r = variant == 1 ? (b % 3 == 0 ? b % racks : 0) : b % racks;
                    const char *rack = variant == 2 && b % 4 == 0 ? NULL : rack_names[r];
                    test_add_broker(&img, b, racks == 1 && variant == 0 ? NULL : rack);
                    active++;
                }
                /* Fence one broker in the bigger layouts: it must get nothing. */
                int32_t fenced = n >= 5 ? 2 : -1;
                if (fenced > 0) {
                    sl_metadata_record_t rec;
                    assert_int_equal(
                        sl_metadata_record_init(&rec, SL_METADATA_RECORD_FENCE_BROKER, 0), 0);
                    rec.u.fence_broker.id = fenced;
                    rec.u.fence_broker.epoch = fenced * 100;
                    assert_int_equal(sl_metadata_apply(&img, &rec), 0);
                    active--;
                }
                /* Distinct racks among active brokers. */
                const char *seen[16];
                int32_t distinct = 0;
                for (int32_t i = 0; i < img.broker_count; i++) {
                    if (!sl_metadata_broker_active(&img, img.brokers[i].id))
                        continue;
                    bool known = false;
                    for (int32_t k = 0; k < distinct; k++)
                        known |= rack_eq(seen[k], img.brokers[i].rack);
                    if (!known)
                        seen[distinct++] = img.brokers[i].rack;
                }
                for (int16_t rf = 1; rf <= 4; rf++) {
                    for (uint32_t seed = 0; seed < 5; seed++) {
                        sl_arena_t arena;
                        sl_arena_init(&arena, TEST_ARENA_BYTES);
                        sl_metadata_records_t list;
                        sl_metadata_records_init(&list, &arena);
                        int32_t partitions = 1 + (int32_t)((seed * 7 + (uint32_t)n) % 24);
                        sl_metadata_create_topic_t req = {.name = sl_slice_from_str("p"),
                                                          .partition_count = partitions,
                                                          .replication_factor = rf};
                        memset(req.topic_id.bytes, 9, 16);
                        sl_metadata_policy_t policy = {0};
                        sl_metadata_result_t res = sl_metadata_create_topic(
                            &img, &policy, &req, seed * 2654435761u, &list);
                        if (rf > active) {
                            assert_int_equal(res.error, SL_KERR_INVALID_REPLICATION_FACTOR);
                            assert_int_equal(list.count, 0);
                            sl_arena_deinit(&arena);
                            continue;
                        }
                        expect_ok(res);
                        assert_int_equal(list.count, 1 + (size_t)partitions);
                        int32_t leads[16] = {0};
                        for (size_t i = 1; i < list.count; i++) {
                            const sl_partition_record_t *p = &list.items[i].u.partition;
                            assert_int_equal(list.items[i].type, SL_METADATA_RECORD_PARTITION);
                            assert_int_equal(p->partition_id, (int32_t)i - 1);
                            assert_int_equal(p->replicas_count, rf);
                            const char *racks_used[8];
                            int32_t racks_count = 0;
                            for (int32_t k = 0; k < rf; k++) {
                                int32_t id = p->replicas[k];
                                assert_true(sl_metadata_broker_active(&img, id));
                                for (int32_t j = 0; j < k; j++)
                                    assert_int_not_equal(p->replicas[j], id);
                                bool known = false;
                                for (int32_t j = 0; j < racks_count; j++)
                                    known |= rack_eq(racks_used[j], rack_of(&img, id));
                                if (!known)
                                    racks_used[racks_count++] = rack_of(&img, id);
                            }
                            int32_t want = rf < distinct ? rf : distinct;
                            if (racks_count != want)
                                fail_msg("n=%d racks=%d variant=%d rf=%d: partition %zu on %d "
                                         "racks, %d possible",
                                         n, racks, variant, rf, i - 1, racks_count, want);
                            assert_int_equal(p->leader, p->replicas[0]);
                            assert_int_equal(p->isr_count, rf);
                            assert_int_equal(p->leader_epoch, 0);
                            leads[p->leader]++;
                        }
                        int32_t lo = INT32_MAX, hi = 0;
                        for (int32_t b = 1; b <= n; b++) {
                            if (!sl_metadata_broker_active(&img, b))
                                continue;
                            lo = leads[b] < lo ? leads[b] : lo;
                            hi = leads[b] > hi ? leads[b] : hi;
                        }
                        if (hi - lo > 1)
                            fail_msg("n=%d racks=%d variant=%d rf=%d: leader counts %d..%d", n,
                                     racks, variant, rf, lo, hi);
                        /* The records apply. */
                        sl_metadata_image_t copy;
                        test_image_copy(&img, &copy);
                        test_apply_all(&copy, &list);
                        sl_metadata_image_deinit(&copy);
                        sl_arena_deinit(&arena);
                    }
                }
                layouts++;
                sl_metadata_image_deinit(&img);
            }
        }
    }
    assert_int_equal(layouts, 12 * 4 * 3);
}

/* Leaders stay even across topics: ten one-partition topics on five brokers lead twice each,
 * whatever the seeds; a bigger topic after them fills evenly again. */
static void test_leaders_even_across_topics(void **state)
{
    fixture_t *f = *state;
    brokers(f, 5);
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "one-%d", i);
        create(f, name, 1, 3, (uint32_t)i * 7919u % 3u);
    }
    int32_t leads[6] = {0};
    for (int32_t ti = 0; ti < f->img.topic_count; ti++)
        leads[f->img.topics[ti]->partitions[0].leader]++;
    for (int32_t b = 1; b <= 5; b++)
        assert_int_equal(leads[b], 2);
    create(f, "big", 7, 2, 12345);
    memset(leads, 0, sizeof leads);
    for (int32_t ti = 0; ti < f->img.topic_count; ti++) {
        const sl_metadata_topic_t *t = f->img.topics[ti];
        for (int32_t pid = 0; pid < t->partition_count; pid++)
            leads[t->partitions[pid].leader]++;
    }
    int32_t lo = INT32_MAX, hi = 0;
    for (int32_t b = 1; b <= 5; b++) {
        lo = leads[b] < lo ? leads[b] : lo;
        hi = leads[b] > hi ? leads[b] : hi;
    }
    assert_true(hi - lo <= 1); /* 17 leaderships over 5 brokers: 3 or 4 each */
}

/* ---- topics ---------------------------------------------------------------------------------- */

static void test_create_topic_errors_and_assignment(void **state)
{
    fixture_t *f = *state;
    brokers(f, 3);
    sl_metadata_topic_t *t = create(f, "orders", 3, 3, 0);
    assert_int_equal(t->partition_count, 3);
    sl_metadata_create_topic_t req = {
        .name = sl_slice_from_str("orders"), .partition_count = 1, .replication_factor = 1};
    memset(req.topic_id.bytes, 0x77, 16);
    assert_int_equal(sl_metadata_create_topic(&f->img, &f->policy, &req, 0, &f->list).error,
                     SL_KERR_TOPIC_ALREADY_EXISTS);
    req.name = sl_slice_from_str("bad name");
    assert_int_equal(sl_metadata_create_topic(&f->img, &f->policy, &req, 0, &f->list).error,
                     SL_KERR_INVALID_TOPIC_EXCEPTION);
    create(f, "a.b", 1, 1, 0);
    req.name = sl_slice_from_str("a_b");
    assert_int_equal(sl_metadata_create_topic(&f->img, &f->policy, &req, 0, &f->list).error,
                     SL_KERR_INVALID_TOPIC_EXCEPTION);
    req.name = sl_slice_from_str("new");
    req.partition_count = 0;
    assert_int_equal(sl_metadata_create_topic(&f->img, &f->policy, &req, 0, &f->list).error,
                     SL_KERR_INVALID_PARTITIONS);
    req.partition_count = 1;
    req.replication_factor = 4;
    sl_metadata_result_t res = sl_metadata_create_topic(&f->img, &f->policy, &req, 0, &f->list);
    assert_int_equal(res.error, SL_KERR_INVALID_REPLICATION_FACTOR);
    assert_non_null(strstr(res.message, "only 3 broker(s)"));
    assert_int_equal(f->list.count, 0);
    /* Defaults from the policy, configs as ConfigRecords. */
    req.partition_count = -1;
    req.replication_factor = -1;
    sl_metadata_config_entry_t configs[] = {{"retention.ms", "1000"}, {"cleanup.policy", NULL}};
    req.configs = configs;
    req.config_count = 2;
    expect_ok(sl_metadata_create_topic(&f->img, &f->policy, &req, 0, &f->list));
    assert_int_equal(commit(f), 1 + 1 + 1);
    t = sl_metadata_topic_find(&f->img, sl_slice_from_str("new"));
    assert_int_equal(t->partition_count, 1);
    assert_int_equal(t->partitions[0].replicas.count, 3);
    assert_string_equal(
        sl_metadata_config_find(&f->img, SL_METADATA_CONFIG_TOPIC, "new", "retention.ms"), "1000");
    /* A manual assignment, and its errors. */
    int32_t a0[] = {3, 1}, a1[] = {2, 3}, bad[] = {2, 9}, dup[] = {2, 2}, short_[] = {1};
    sl_metadata_replicas_t assign[] = {{a0, 2}, {a1, 2}};
    sl_metadata_create_topic_t man = {.name = sl_slice_from_str("manual"),
                                      .partition_count = -1,
                                      .replication_factor = -1,
                                      .assignments = assign,
                                      .assignment_count = 2};
    memset(man.topic_id.bytes, 0x55, 16);
    expect_ok(sl_metadata_create_topic(&f->img, &f->policy, &man, 0, &f->list));
    commit(f);
    t = sl_metadata_topic_find(&f->img, sl_slice_from_str("manual"));
    assert_int_equal(t->partitions[0].leader, 3);
    assert_int_equal(t->partitions[1].replicas.ids[1], 3);
    man.name = sl_slice_from_str("manual2");
    memset(man.topic_id.bytes, 0x56, 16);
    assign[1] = (sl_metadata_replicas_t){bad, 2};
    assert_int_equal(sl_metadata_create_topic(&f->img, &f->policy, &man, 0, &f->list).error,
                     SL_KERR_INVALID_REPLICA_ASSIGNMENT);
    assign[1] = (sl_metadata_replicas_t){dup, 2};
    assert_int_equal(sl_metadata_create_topic(&f->img, &f->policy, &man, 0, &f->list).error,
                     SL_KERR_INVALID_REPLICA_ASSIGNMENT);
    assign[1] = (sl_metadata_replicas_t){short_, 1};
    assert_int_equal(sl_metadata_create_topic(&f->img, &f->policy, &man, 0, &f->list).error,
                     SL_KERR_INVALID_REPLICA_ASSIGNMENT);
    man.partition_count = 2;
    assert_int_equal(sl_metadata_create_topic(&f->img, &f->policy, &man, 0, &f->list).error,
                     SL_KERR_INVALID_REQUEST);
    assert_int_equal(f->list.count, 0);

    /* CreatePartitions: more partitions with the same replication factor, then delete. */
    expect_ok(sl_metadata_create_partitions(&f->img, sl_slice_from_str("orders"), 5, NULL, 0, 7,
                                            &f->list));
    assert_int_equal(commit(f), 2);
    t = sl_metadata_topic_find(&f->img, sl_slice_from_str("orders"));
    assert_int_equal(t->partition_count, 5);
    assert_int_equal(t->partitions[4].replicas.count, 3);
    assert_int_equal(
        sl_metadata_create_partitions(&f->img, sl_slice_from_str("orders"), 5, NULL, 0, 0, &f->list)
            .error,
        SL_KERR_INVALID_PARTITIONS);
    assert_int_equal(
        sl_metadata_create_partitions(&f->img, sl_slice_from_str("nope"), 5, NULL, 0, 0, &f->list)
            .error,
        SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    expect_ok(sl_metadata_delete_topic(&f->img, sl_slice_from_str("new"), &f->list));
    commit(f);
    assert_null(sl_metadata_topic_find(&f->img, sl_slice_from_str("new")));
    assert_null(sl_metadata_config_find(&f->img, SL_METADATA_CONFIG_TOPIC, "new", "retention.ms"));
    assert_int_equal(sl_metadata_delete_topic(&f->img, sl_slice_from_str("new"), &f->list).error,
                     SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
}

/* ---- brokers: registration, heartbeats, fencing ---------------------------------------------- */

static sl_metadata_heartbeat_reply_t heartbeat(fixture_t *f, int32_t id, bool want_fence,
                                               bool want_shut_down, sl_kerr_t want_error)
{
    const sl_metadata_broker_t *b = sl_metadata_broker_find(&f->img, id);
    sl_metadata_heartbeat_t hb = {.broker_id = id,
                                  .broker_epoch = b != NULL ? b->epoch : 0,
                                  .current_metadata_offset = INT64_MAX,
                                  .want_fence = want_fence,
                                  .want_shut_down = want_shut_down};
    sl_metadata_heartbeat_reply_t reply;
    sl_metadata_result_t r = sl_metadata_broker_heartbeat(&f->img, &f->sessions, &f->policy, &hb,
                                                          f->now_ms, &f->list, &reply);
    assert_int_equal(r.error, want_error);
    commit(f);
    return reply;
}

static void test_registration_and_heartbeats(void **state)
{
    fixture_t *f = *state;
    sl_metadata_endpoint_t ep = {"PLAINTEXT", "127.0.0.12", 9092, 0};
    sl_uuid_t dir;
    memset(dir.bytes, 0xd1, 16);
    sl_metadata_broker_registration_t reg = {.broker_id = 2,
                                             .endpoints = &ep,
                                             .endpoint_count = 1,
                                             .rack = "east",
                                             .log_dirs = &dir,
                                             .log_dir_count = 1,
                                             .broker_epoch = 42};
    memset(reg.incarnation_id.bytes, 0xaa, 16);
    expect_ok(
        sl_metadata_register_broker(&f->img, &f->sessions, &f->policy, &reg, f->now_ms, &f->list));
    commit(f);
    const sl_metadata_broker_t *b = sl_metadata_broker_find(&f->img, 2);
    assert_non_null(b);
    assert_true(b->fenced); /* until its first caught-up heartbeat */
    assert_int_equal(b->epoch, 42);
    assert_string_equal(b->rack, "east");
    assert_string_equal(b->endpoints[0].host, "127.0.0.12");
    assert_int_equal(b->endpoints[0].port, 9092);
    /* Another incarnation while the session lives: refused. */
    sl_metadata_broker_registration_t other = reg;
    memset(other.incarnation_id.bytes, 0xbb, 16);
    assert_int_equal(sl_metadata_register_broker(&f->img, &f->sessions, &f->policy, &other,
                                                 f->now_ms + 1000, &f->list)
                         .error,
                     SL_KERR_DUPLICATE_BROKER_REGISTRATION);
    /* Not caught up yet: stays fenced. */
    sl_metadata_heartbeat_t hb = {
        .broker_id = 2, .broker_epoch = 42, .current_metadata_offset = 41};
    sl_metadata_heartbeat_reply_t reply;
    expect_ok(sl_metadata_broker_heartbeat(&f->img, &f->sessions, &f->policy, &hb, f->now_ms,
                                           &f->list, &reply));
    assert_false(reply.is_caught_up);
    assert_true(reply.is_fenced);
    assert_int_equal(commit(f), 0);
    hb.current_metadata_offset = 42;
    expect_ok(sl_metadata_broker_heartbeat(&f->img, &f->sessions, &f->policy, &hb, f->now_ms,
                                           &f->list, &reply));
    assert_true(reply.is_caught_up);
    assert_false(reply.is_fenced);
    commit(f);
    assert_false(sl_metadata_broker_find(&f->img, 2)->fenced);
    hb.broker_epoch = 41;
    assert_int_equal(sl_metadata_broker_heartbeat(&f->img, &f->sessions, &f->policy, &hb, f->now_ms,
                                                  &f->list, &reply)
                         .error,
                     SL_KERR_STALE_BROKER_EPOCH);
    hb.broker_id = 7;
    assert_int_equal(sl_metadata_broker_heartbeat(&f->img, &f->sessions, &f->policy, &hb, f->now_ms,
                                                  &f->list, &reply)
                         .error,
                     SL_KERR_BROKER_ID_NOT_REGISTERED);
    /* After the session expired, a new incarnation may register (fenced again). */
    f->now_ms += f->policy.broker_session_timeout_ms + 1;
    other.broker_epoch = 50;
    expect_ok(sl_metadata_register_broker(&f->img, &f->sessions, &f->policy, &other, f->now_ms,
                                          &f->list));
    commit(f);
    assert_true(sl_metadata_broker_find(&f->img, 2)->fenced);
    assert_int_equal(sl_metadata_broker_find(&f->img, 2)->epoch, 50);
}

/* Every partition whose leader was fenced gets a leader from its old ISR (never outside it), the
 * fenced broker leaves every ISR but the last member stays, and unclean election only happens
 * when the policy allows it. */
static void test_fencing_moves_leaders_within_isr(void **state)
{
    fixture_t *f = *state;
    brokers(f, 4);
    sl_metadata_topic_t *t = create(f, "t", 12, 3, 3);
    /* Narrow some ISRs first so "within the ISR" is a real constraint. */
    for (int32_t pid = 0; pid < 12; pid += 3) {
        const sl_metadata_partition_t *p = &t->partitions[pid];
        int32_t isr[] = {p->leader, p->replicas.ids[p->replicas.ids[0] == p->leader ? 1 : 0]};
        sl_metadata_alter_partition_t req = {.topic_id = t->id,
                                             .partition_id = pid,
                                             .broker_id = p->leader,
                                             .broker_epoch = p->leader * 100,
                                             .leader_epoch = p->leader_epoch,
                                             .partition_epoch = p->partition_epoch,
                                             .new_isr = isr,
                                             .new_isr_count = 2};
        expect_ok(sl_metadata_alter_partition(&f->img, &req, &f->list));
        assert_int_equal(commit(f), 1);
    }
    sl_metadata_image_t before;
    test_image_copy(&f->img, &before);
    /* Brokers 2-4 heartbeat; broker 1 goes silent past the session timeout. */
    f->now_ms += f->policy.broker_session_timeout_ms / 2;
    for (int32_t b = 2; b <= 4; b++)
        heartbeat(f, b, false, false, 0);
    int32_t fenced = 0;
    assert_int_equal(sl_metadata_fence_stale_brokers(&f->img, &f->sessions, &f->policy, f->now_ms,
                                                     &f->list, &fenced),
                     0);
    assert_int_equal(fenced, 0); /* not yet */
    f->now_ms += f->policy.broker_session_timeout_ms / 2 + 1;
    for (int32_t b = 2; b <= 4; b++)
        heartbeat(f, b, false, false, 0);
    assert_int_equal(sl_metadata_fence_stale_brokers(&f->img, &f->sessions, &f->policy, f->now_ms,
                                                     &f->list, &fenced),
                     0);
    assert_int_equal(fenced, 1);
    commit(f);
    assert_true(sl_metadata_broker_find(&f->img, 1)->fenced);
    sl_metadata_topic_t *old_t = sl_metadata_topic_find(&before, sl_slice_from_str("t"));
    int moved = 0;
    for (int32_t pid = 0; pid < 12; pid++) {
        const sl_metadata_partition_t *was = &old_t->partitions[pid];
        const sl_metadata_partition_t *p = &t->partitions[pid];
        assert_false(sl_metadata_replicas_contains(&p->isr, 1) && p->isr.count > 1);
        if (was->leader == 1) {
            moved++;
            assert_int_not_equal(p->leader, 1);
            if (p->leader != SL_METADATA_NO_LEADER)
                assert_true(sl_metadata_replicas_contains(&was->isr, p->leader));
            assert_int_equal(p->leader_epoch, was->leader_epoch + 1);
        } else {
            assert_int_equal(p->leader, was->leader);
            assert_int_equal(p->leader_epoch, was->leader_epoch);
        }
    }
    assert_int_equal(moved, 3); /* 12 partitions over 4 brokers: broker 1 led 3 */
    sl_metadata_image_deinit(&before);

    /* Fence the others one by one: the last ISR member stays, the partition goes offline. */
    heartbeat(f, 2, true, false, 0);
    heartbeat(f, 3, true, false, 0);
    heartbeat(f, 4, true, false, 0);
    for (int32_t pid = 0; pid < 12; pid++) {
        const sl_metadata_partition_t *p = &t->partitions[pid];
        assert_int_equal(p->leader, SL_METADATA_NO_LEADER);
        assert_int_equal(p->isr.count, 1);
    }
    /* Broker 4 comes back: it leads exactly the partitions whose ISR kept it. */
    heartbeat(f, 4, false, false, 0);
    for (int32_t pid = 0; pid < 12; pid++) {
        const sl_metadata_partition_t *p = &t->partitions[pid];
        if (p->isr.ids[0] == 4)
            assert_int_equal(p->leader, 4);
        else
            assert_int_equal(p->leader, SL_METADATA_NO_LEADER);
    }
}

/* A broker coming back to many offline partitions: the unfence record and every election survive
 * the record list growing (it moves when it grows). */
static void test_unfence_with_many_offline_partitions(void **state)
{
    fixture_t *f = *state;
    brokers(f, 2);
    sl_metadata_topic_t *t = create(f, "many", 40, 2, 0);
    heartbeat(f, 1, true, false, 0);
    heartbeat(f, 2, true, false, 0);
    int offline = 0;
    for (int32_t pid = 0; pid < 40; pid++)
        offline += t->partitions[pid].leader == SL_METADATA_NO_LEADER;
    assert_int_equal(offline, 40);
    heartbeat(f, 2, false, false, 0);
    assert_false(sl_metadata_broker_find(&f->img, 2)->fenced);
    int led = 0;
    for (int32_t pid = 0; pid < 40; pid++) {
        const sl_metadata_partition_t *p = &t->partitions[pid];
        if (p->isr.ids[0] == 2) {
            assert_int_equal(p->leader, 2);
            led++;
        }
    }
    assert_true(led >= 20); /* 2 led half of them and stayed the last ISR member of those */
}

static void test_unclean_election_only_when_enabled(void **state)
{
    fixture_t *f = *state;
    brokers(f, 3);
    int32_t a[] = {1, 2, 3};
    sl_metadata_replicas_t assign[] = {{a, 3}};
    sl_metadata_create_topic_t req = {.name = sl_slice_from_str("u"),
                                      .partition_count = -1,
                                      .replication_factor = -1,
                                      .assignments = assign,
                                      .assignment_count = 1};
    memset(req.topic_id.bytes, 3, 16);
    expect_ok(sl_metadata_create_topic(&f->img, &f->policy, &req, 0, &f->list));
    commit(f);
    sl_metadata_topic_t *t = sl_metadata_topic_find(&f->img, sl_slice_from_str("u"));
    sl_metadata_partition_t *p = &t->partitions[0];
    int32_t only_leader[] = {1};
    sl_metadata_alter_partition_t shrink = {.topic_id = t->id,
                                            .partition_id = 0,
                                            .broker_id = 1,
                                            .broker_epoch = 100,
                                            .leader_epoch = p->leader_epoch,
                                            .partition_epoch = p->partition_epoch,
                                            .new_isr = only_leader,
                                            .new_isr_count = 1};
    expect_ok(sl_metadata_alter_partition(&f->img, &shrink, &f->list));
    commit(f);
    heartbeat(f, 1, true, false, 0); /* ISR [1] and 1 fenced: no clean leader */
    assert_int_equal(p->leader, SL_METADATA_NO_LEADER);
    assert_int_equal(p->isr.count, 1);
    assert_int_equal(p->isr.ids[0], 1);
    /* Offline partitions get no leader from outside the ISR while unclean election is off. */
    int32_t elected = -1;
    assert_int_equal(sl_metadata_elect_offline(&f->img, &f->policy, &f->list, &elected), 0);
    assert_int_equal(elected, 0);
    assert_int_equal(commit(f), 0);
    /* With it on, the first active replica leads, alone in the ISR, RECOVERING. */
    f->policy.unclean_leader_election_enable = true;
    assert_int_equal(sl_metadata_elect_offline(&f->img, &f->policy, &f->list, &elected), 0);
    assert_int_equal(elected, 1);
    commit(f);
    assert_int_equal(p->leader, 2);
    assert_int_equal(p->isr.count, 1);
    assert_int_equal(p->isr.ids[0], 2);
    assert_int_equal(p->leader_recovery_state, SL_METADATA_LEADER_RECOVERING);
}

static void test_controlled_shutdown(void **state)
{
    fixture_t *f = *state;
    brokers(f, 3);
    sl_metadata_topic_t *t = create(f, "s", 6, 3, 0);
    sl_metadata_heartbeat_reply_t r = heartbeat(f, 2, false, true, 0);
    assert_false(r.should_shut_down); /* it led partitions when it asked */
    assert_true(sl_metadata_broker_find(&f->img, 2)->in_controlled_shutdown);
    for (int32_t pid = 0; pid < 6; pid++) {
        assert_int_not_equal(t->partitions[pid].leader, 2);
        assert_false(sl_metadata_replicas_contains(&t->partitions[pid].isr, 2));
    }
    r = heartbeat(f, 2, false, true, 0);
    assert_true(r.should_shut_down);
}

/* ---- partitions ------------------------------------------------------------------------------ */

static void test_alter_partition(void **state)
{
    fixture_t *f = *state;
    brokers(f, 3);
    sl_metadata_topic_t *t = create(f, "a", 1, 3, 0);
    sl_metadata_partition_t *p = &t->partitions[0];
    int32_t leader = p->leader;
    int32_t follower = p->replicas.ids[1];
    int32_t shrunk[] = {leader, follower};
    sl_metadata_alter_partition_t req = {.topic_id = t->id,
                                         .partition_id = 0,
                                         .broker_id = leader,
                                         .broker_epoch = leader * 100,
                                         .leader_epoch = 0,
                                         .partition_epoch = 0,
                                         .new_isr = shrunk,
                                         .new_isr_count = 2};
    expect_ok(sl_metadata_alter_partition(&f->img, &req, &f->list));
    assert_int_equal(f->list.items[0].u.partition_change.leader, SL_METADATA_NO_LEADER_CHANGE);
    commit(f);
    assert_int_equal(p->isr.count, 2);
    assert_int_equal(p->leader_epoch, 0);
    assert_int_equal(p->partition_epoch, 1);
    /* The same request again: its partition epoch is stale now. */
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_INVALID_UPDATE_VERSION);
    req.partition_epoch = 1;
    req.leader_epoch = 5;
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_FENCED_LEADER_EPOCH);
    req.leader_epoch = 0;
    req.broker_id = follower;
    req.broker_epoch = follower * 100;
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_NOT_LEADER_OR_FOLLOWER);
    req.broker_id = leader;
    req.broker_epoch = 1;
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_STALE_BROKER_EPOCH);
    req.broker_epoch = leader * 100;
    int32_t without_leader[] = {follower};
    req.new_isr = without_leader;
    req.new_isr_count = 1;
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_INVALID_REQUEST);
    int32_t stranger[] = {leader, 9};
    req.new_isr = stranger;
    req.new_isr_count = 2;
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_INVALID_REQUEST);
    /* Expanding onto a fenced replica: INELIGIBLE_REPLICA. */
    int32_t third = p->replicas.ids[2];
    heartbeat(f, third, true, false, 0);
    int32_t all[] = {leader, follower, third};
    req.new_isr = all;
    req.new_isr_count = 3;
    req.partition_epoch = p->partition_epoch;
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_INELIGIBLE_REPLICA);
    heartbeat(f, third, false, false, 0);
    expect_ok(sl_metadata_alter_partition(&f->img, &req, &f->list));
    commit(f);
    assert_int_equal(p->isr.count, 3);
    req.partition_epoch = p->partition_epoch;
    req.leader_recovery_state = SL_METADATA_LEADER_RECOVERING;
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_INVALID_REQUEST);
    assert_int_equal(f->list.count, 0);
    uint8_t unknown[16] = {0x99};
    memcpy(req.topic_id.bytes, unknown, 16);
    assert_int_equal(sl_metadata_alter_partition(&f->img, &req, &f->list).error,
                     SL_KERR_UNKNOWN_TOPIC_ID);
}

static void test_preferred_election(void **state)
{
    fixture_t *f = *state;
    brokers(f, 3);
    sl_metadata_topic_t *t = create(f, "e", 1, 3, 0);
    sl_metadata_partition_t *p = &t->partitions[0];
    int32_t preferred = p->replicas.ids[0];
    assert_int_equal(
        sl_metadata_elect_preferred(&f->img, sl_slice_from_str("e"), 0, &f->list).error,
        SL_KERR_ELECTION_NOT_NEEDED);
    heartbeat(f, preferred, true, false, 0); /* leadership moves away, it leaves the ISR */
    assert_int_not_equal(p->leader, preferred);
    heartbeat(f, preferred, false, false, 0);
    assert_int_equal(
        sl_metadata_elect_preferred(&f->img, sl_slice_from_str("e"), 0, &f->list).error,
        SL_KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    /* The leader lets it back into the ISR once caught up; then the election moves it back. */
    int32_t isr[SL_METADATA_REPLICAS_MAX];
    memcpy(isr, p->isr.ids, sizeof(int32_t) * (size_t)p->isr.count);
    isr[p->isr.count] = preferred;
    sl_metadata_alter_partition_t req = {.topic_id = t->id,
                                         .partition_id = 0,
                                         .broker_id = p->leader,
                                         .broker_epoch = p->leader * 100,
                                         .leader_epoch = p->leader_epoch,
                                         .partition_epoch = p->partition_epoch,
                                         .new_isr = isr,
                                         .new_isr_count = p->isr.count + 1};
    expect_ok(sl_metadata_alter_partition(&f->img, &req, &f->list));
    commit(f);
    int32_t epoch = p->leader_epoch;
    expect_ok(sl_metadata_elect_preferred(&f->img, sl_slice_from_str("e"), 0, &f->list));
    commit(f);
    assert_int_equal(p->leader, preferred);
    assert_int_equal(p->leader_epoch, epoch + 1);
    assert_int_equal(
        sl_metadata_elect_preferred(&f->img, sl_slice_from_str("x"), 0, &f->list).error,
        SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
}

/* Scale out: move a replica of a partition from broker 1 to a new broker 4. */
static void test_reassignment(void **state)
{
    fixture_t *f = *state;
    brokers(f, 3);
    int32_t a[] = {1, 2, 3};
    sl_metadata_replicas_t assign[] = {{a, 3}};
    sl_metadata_create_topic_t req = {.name = sl_slice_from_str("r"),
                                      .partition_count = -1,
                                      .replication_factor = -1,
                                      .assignments = assign,
                                      .assignment_count = 1};
    memset(req.topic_id.bytes, 4, 16);
    expect_ok(sl_metadata_create_topic(&f->img, &f->policy, &req, 0, &f->list));
    commit(f);
    test_add_broker(&f->img, 4, NULL);
    sl_metadata_topic_t *t = sl_metadata_topic_find(&f->img, sl_slice_from_str("r"));
    sl_metadata_partition_t *p = &t->partitions[0];
    assert_int_equal(
        sl_metadata_reassign_partition(&f->img, sl_slice_from_str("r"), 0, NULL, &f->list).error,
        SL_KERR_NO_REASSIGNMENT_IN_PROGRESS);
    int32_t bad[] = {4, 4};
    sl_metadata_replicas_t target = {bad, 2};
    assert_int_equal(
        sl_metadata_reassign_partition(&f->img, sl_slice_from_str("r"), 0, &target, &f->list).error,
        SL_KERR_INVALID_REPLICA_ASSIGNMENT);
    int32_t goal[] = {4, 2, 3};
    target = (sl_metadata_replicas_t){goal, 3};
    expect_ok(
        sl_metadata_reassign_partition(&f->img, sl_slice_from_str("r"), 0, &target, &f->list));
    commit(f);
    int32_t want_replicas[] = {4, 2, 3, 1};
    assert_int_equal(p->replicas.count, 4);
    assert_memory_equal(p->replicas.ids, want_replicas, sizeof want_replicas);
    assert_int_equal(p->adding_replicas.count, 1);
    assert_int_equal(p->adding_replicas.ids[0], 4);
    assert_int_equal(p->removing_replicas.count, 1);
    assert_int_equal(p->removing_replicas.ids[0], 1);
    assert_int_equal(p->leader, 1); /* until the move completes */
    /* Cancel puts it back; start again. */
    expect_ok(sl_metadata_reassign_partition(&f->img, sl_slice_from_str("r"), 0, NULL, &f->list));
    commit(f);
    assert_int_equal(p->replicas.count, 3);
    assert_int_equal(p->adding_replicas.count, 0);
    assert_int_equal(p->removing_replicas.count, 0);
    /* Kafka's revert keeps the merged order minus the added replicas: the preferred replica
     * changes (as in Kafka, where the original order is not recorded). */
    int32_t reverted[] = {2, 3, 1};
    assert_memory_equal(p->replicas.ids, reverted, sizeof reverted);
    expect_ok(
        sl_metadata_reassign_partition(&f->img, sl_slice_from_str("r"), 0, &target, &f->list));
    commit(f);
    /* Broker 4 catches up: the leader adds it to the ISR, which completes the move. */
    int32_t isr[] = {1, 2, 3, 4};
    sl_metadata_alter_partition_t expand = {.topic_id = t->id,
                                            .partition_id = 0,
                                            .broker_id = 1,
                                            .broker_epoch = 100,
                                            .leader_epoch = p->leader_epoch,
                                            .partition_epoch = p->partition_epoch,
                                            .new_isr = isr,
                                            .new_isr_count = 4};
    expect_ok(sl_metadata_alter_partition(&f->img, &expand, &f->list));
    commit(f);
    assert_int_equal(p->replicas.count, 3);
    assert_memory_equal(p->replicas.ids, goal, sizeof goal);
    assert_int_equal(p->adding_replicas.count, 0);
    assert_int_equal(p->removing_replicas.count, 0);
    assert_false(sl_metadata_replicas_contains(&p->isr, 1));
    assert_int_equal(p->isr.count, 3);
    assert_int_equal(p->leader, 4); /* 1 left: the first target replica in the ISR that is up */
    /* Removing a replica only (already in the ISR) completes at once. */
    int32_t smaller[] = {2, 3};
    target = (sl_metadata_replicas_t){smaller, 2};
    expect_ok(
        sl_metadata_reassign_partition(&f->img, sl_slice_from_str("r"), 0, &target, &f->list));
    commit(f);
    assert_int_equal(p->replicas.count, 2);
    assert_int_equal(p->removing_replicas.count, 0);
    assert_int_equal(p->isr.count, 2);
}

static void test_producer_id_blocks(void **state)
{
    fixture_t *f = *state;
    brokers(f, 2);
    int64_t first = -1;
    expect_ok(sl_metadata_allocate_producer_ids(&f->img, 1, 100, &f->list, &first));
    commit(f);
    assert_int_equal(first, 0);
    expect_ok(sl_metadata_allocate_producer_ids(&f->img, 2, 200, &f->list, &first));
    commit(f);
    assert_int_equal(first, 1000);
    assert_int_equal(f->img.next_producer_id, 2000);
    assert_int_equal(f->img.producer_ids_broker_id, 2);
    assert_int_equal(sl_metadata_allocate_producer_ids(&f->img, 2, 1, &f->list, &first).error,
                     SL_KERR_STALE_BROKER_EPOCH);
    assert_int_equal(sl_metadata_allocate_producer_ids(&f->img, 9, 1, &f->list, &first).error,
                     SL_KERR_BROKER_ID_NOT_REGISTERED);
}

int test_controller_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement_properties),
        cmocka_unit_test_setup_teardown(test_leaders_even_across_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_errors_and_assignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_and_heartbeats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing_moves_leaders_within_isr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unfence_with_many_offline_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclean_election_only_when_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_controlled_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preferred_election, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reassignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_id_blocks, setup, teardown),
    };
    return cmocka_run_group_tests_name("metadata_controller", tests, NULL, NULL);
}
