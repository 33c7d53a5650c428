/* test_image: sl_metadata_apply with Kafka's replay semantics (PartitionChangeRecord's -2/null
 * "unchanged" defaults, leader and partition epochs, configs dropped with their topic, producer id
 * blocks only forward, feature level 0 removing), refusals that leave the image unchanged,
 * snapshots (records and a real record batch) that load back to an equal image, and random records
 * that must never crash it. */
#include <stdio.h>
#include <string.h>

#include "test_support.h"

#include "message_fill.h"
#include "sluice/record_batch.h"

typedef struct {
    sl_arena_t arena;
    sl_metadata_records_t list;
    sl_metadata_image_t img;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = test_calloc(1, sizeof *f);
    sl_arena_init(&f->arena, TEST_ARENA_BYTES);
    sl_metadata_records_init(&f->list, &f->arena);
    sl_metadata_image_init(&f->img);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sl_metadata_image_deinit(&f->img);
    sl_arena_deinit(&f->arena);
    test_free(f);
    return 0;
}

static sl_uuid_t uuid_of(uint8_t b)
{
    sl_uuid_t u;
    memset(u.bytes, b, 16);
    return u;
}

static sl_metadata_record_t *add(fixture_t *f, int16_t type)
{
    sl_metadata_record_t *rec = sl_metadata_records_add(&f->list, type);
    assert_non_null(rec);
    return rec;
}

static int apply_last(fixture_t *f)
{
    return sl_metadata_apply(&f->img, &f->list.items[f->list.count - 1]);
}

static void add_topic(fixture_t *f, const char *name, uint8_t id)
{
    sl_metadata_record_t *rec = add(f, SL_METADATA_RECORD_TOPIC);
    rec->u.topic.name = sl_slice_from_str(name);
    rec->u.topic.topic_id = uuid_of(id);
    assert_int_equal(apply_last(f), 0);
}

static int32_t *ids(fixture_t *f, int32_t count, const int32_t *values)
{
    int32_t *p = sl_arena_alloc(&f->arena, sizeof(int32_t) * (size_t)count + 1);
    memcpy(p, values, sizeof(int32_t) * (size_t)count);
    return p;
}

#define IDS(f, ...)                                                                                \
    ids(f, (int32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), (int32_t[]){__VA_ARGS__})
#define COUNT(...) ((int32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

static sl_partition_record_t *partition(fixture_t *f, uint8_t topic, int32_t id)
{
    sl_partition_record_t *p = &add(f, SL_METADATA_RECORD_PARTITION)->u.partition;
    p->topic_id = uuid_of(topic);
    p->partition_id = id;
    p->replicas = IDS(f, 1, 2, 3);
    p->replicas_count = 3;
    p->isr = IDS(f, 1, 2, 3);
    p->isr_count = 3;
    p->leader = 1;
    p->leader_epoch = 0;
    p->partition_epoch = 0;
    p->directories = NULL;
    p->directories_count = 0;
    return p;
}

static sl_partition_change_record_t *change(fixture_t *f, uint8_t topic, int32_t id)
{
    sl_partition_change_record_t *c =
        &add(f, SL_METADATA_RECORD_PARTITION_CHANGE)->u.partition_change;
    c->topic_id = uuid_of(topic);
    c->partition_id = id;
    return c;
}

static void assert_ids(const sl_metadata_replicas_t *r, int32_t count, const int32_t *want)
{
    assert_int_equal(r->count, count);
    for (int32_t i = 0; i < count; i++)
        assert_int_equal(r->ids[i], want[i]);
}

#define ASSERT_IDS(r, ...) assert_ids(r, COUNT(__VA_ARGS__), (int32_t[]){__VA_ARGS__})

static void test_partition_change_semantics(void **state)
{
    fixture_t *f = *state;
    for (int32_t b = 1; b <= 4; b++)
        test_add_broker(&f->img, b, NULL);
    add_topic(f, "orders", 7);
    partition(f, 7, 0);
    assert_int_equal(apply_last(f), 0);
    sl_metadata_topic_t *t = sl_metadata_topic_find(&f->img, sl_slice_from_str("orders"));
    assert_non_null(t);
    sl_metadata_partition_t *p = sl_metadata_partition_find(t, 0);
    assert_non_null(p);
    /* A record without directories (Kafka: older versions) leaves every replica MIGRATING. */
    assert_int_equal(p->leader, 1);

    /* Only the ISR: leader (-2) and its epoch unchanged, partition epoch + 1. */
    sl_partition_change_record_t *c = change(f, 7, 0);
    c->isr = IDS(f, 1, 2);
    c->isr_count = 2;
    assert_int_equal(apply_last(f), 0);
    ASSERT_IDS(&p->isr, 1, 2);
    ASSERT_IDS(&p->replicas, 1, 2, 3);
    assert_int_equal(p->leader, 1);
    assert_int_equal(p->leader_epoch, 0);
    assert_int_equal(p->partition_epoch, 1);

    /* A leader change bumps the leader epoch; the other lists (null) stay. */
    c = change(f, 7, 0);
    c->leader = 2;
    assert_int_equal(apply_last(f), 0);
    assert_int_equal(p->leader, 2);
    assert_int_equal(p->leader_epoch, 1);
    assert_int_equal(p->partition_epoch, 2);
    ASSERT_IDS(&p->isr, 1, 2);

    /* -1: no leader (offline), still an epoch bump. */
    c = change(f, 7, 0);
    c->leader = SL_METADATA_NO_LEADER;
    assert_int_equal(apply_last(f), 0);
    assert_int_equal(p->leader, -1);
    assert_int_equal(p->leader_epoch, 2);

    /* Same leader written explicitly still bumps (Kafka: any value but -2). */
    c = change(f, 7, 0);
    c->leader = 1;
    c->leader_recovery_state = SL_METADATA_LEADER_RECOVERING;
    assert_int_equal(apply_last(f), 0);
    c = change(f, 7, 0);
    c->leader = 1;
    assert_int_equal(apply_last(f), 0);
    assert_int_equal(p->leader_epoch, 4);
    assert_int_equal(p->leader_recovery_state, SL_METADATA_LEADER_RECOVERING); /* -1 kept it */

    /* A reassignment: replicas, adding, removing, ELR; directories follow the replicas. */
    c = change(f, 7, 0);
    c->replicas = IDS(f, 4, 2, 3, 1);
    c->replicas_count = 4;
    c->adding_replicas = IDS(f, 4);
    c->adding_replicas_count = 1;
    c->removing_replicas = IDS(f, 1);
    c->removing_replicas_count = 1;
    c->eligible_leader_replicas = IDS(f, 3);
    c->eligible_leader_replicas_count = 1;
    assert_int_equal(apply_last(f), 0);
    ASSERT_IDS(&p->replicas, 4, 2, 3, 1);
    ASSERT_IDS(&p->adding_replicas, 4);
    ASSERT_IDS(&p->removing_replicas, 1);
    ASSERT_IDS(&p->elr, 3);
    assert_int_equal(p->partition_epoch, 6);
    sl_uuid_t zero = {{0}}, migrating = {{0}};
    migrating.bytes[15] = 2;
    assert_memory_equal(&p->directories[0], &zero, 16);      /* new replica: UNASSIGNED */
    assert_memory_equal(&p->directories[1], &migrating, 16); /* kept from before */

    /* The same record through the codec: what a follower decodes applies the same way. */
    sl_metadata_image_t copy;
    test_image_copy(&f->img, &copy);
    assert_true(sl_metadata_image_equal(&f->img, &copy));
    sl_metadata_image_deinit(&copy);
}

/* Each bad record is refused and leaves the image equal to what it was. */
static void test_refused_records_change_nothing(void **state)
{
    fixture_t *f = *state;
    test_add_broker(&f->img, 1, "a");
    test_add_broker(&f->img, 2, "b");
    test_add_broker(&f->img, 3, "c");
    add_topic(f, "t", 1);
    partition(f, 1, 0);
    assert_int_equal(apply_last(f), 0);
    sl_metadata_image_t before;
    test_image_copy(&f->img, &before);
    sl_metadata_record_t *rec;
    sl_partition_record_t *p;
    sl_partition_change_record_t *c;

#define REFUSED()                                                                                  \
    do {                                                                                           \
        assert_int_equal(apply_last(f), SL_EMALFORMED);                                            \
        assert_true(sl_metadata_image_equal(&f->img, &before));                                    \
    } while (0)

    p = partition(f, 9, 0); /* unknown topic */
    REFUSED();
    p = partition(f, 1, 1);
    p->isr = IDS(f, 1, 4); /* ISR not within the replicas */
    REFUSED();
    p = partition(f, 1, 1);
    p->replicas = IDS(f, 1, 1, 2); /* duplicate replica */
    REFUSED();
    p = partition(f, 1, 1);
    p->leader = 5; /* leader not a replica */
    REFUSED();
    p = partition(f, 1, 1);
    p->replicas_count = 0; /* no replicas */
    p->isr_count = 0;
    REFUSED();
    p = partition(f, 1, -1);
    REFUSED();
    p = partition(f, 1, SL_METADATA_PARTITION_ID_MAX + 1); /* would allocate without bound */
    REFUSED();
    p = partition(f, 1, 1);
    p->directories = sl_arena_alloc(&f->arena, 16 * 2);
    p->directories_count = 2; /* not one per replica */
    REFUSED();
    p = partition(f, 1, 1);
    p->leader_recovery_state = 3;
    REFUSED();
    c = change(f, 1, 3); /* unknown partition */
    REFUSED();
    c = change(f, 1, 0);
    c->leader = -3;
    REFUSED();
    c = change(f, 1, 0);
    c->isr = IDS(f, 7);
    c->isr_count = 1;
    REFUSED();
    c = change(f, 1, 0);
    c->replicas = IDS(f, 2, 3); /* leader 1 would no longer be a replica */
    c->replicas_count = 2;
    REFUSED();
    c = change(f, 1, 0);
    c->adding_replicas = IDS(f, 2);
    c->adding_replicas_count = 1;
    c->removing_replicas = IDS(f, 2); /* both adding and removing */
    c->removing_replicas_count = 1;
    REFUSED();
    c = change(f, 1, 0);
    c->leader_recovery_state = 2;
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_TOPIC); /* same name */
    rec->u.topic.name = sl_slice_from_str("t");
    rec->u.topic.topic_id = uuid_of(2);
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_TOPIC); /* same id */
    rec->u.topic.name = sl_slice_from_str("u");
    rec->u.topic.topic_id = uuid_of(1);
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_TOPIC);
    rec->u.topic.name = sl_slice_from_str("bad/name");
    rec->u.topic.topic_id = uuid_of(3);
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_TOPIC);
    rec->u.topic.name = sl_slice_from_str("zero-id");
    rec->u.topic.topic_id = uuid_of(0);
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_REMOVE_TOPIC);
    rec->u.remove_topic.topic_id = uuid_of(9);
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_FENCE_BROKER);
    rec->u.fence_broker.id = 1;
    rec->u.fence_broker.epoch = 5; /* not its epoch */
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_UNREGISTER_BROKER);
    rec->u.unregister_broker.broker_id = 8;
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_BROKER_REGISTRATION_CHANGE);
    rec->u.broker_registration_change.broker_id = 1;
    rec->u.broker_registration_change.broker_epoch = 100;
    rec->u.broker_registration_change.fenced = 2;
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_REGISTER_BROKER);
    rec->u.register_broker.broker_id = -4;
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_PRODUCER_IDS);
    rec->u.producer_ids.broker_id = 1;
    rec->u.producer_ids.next_producer_id = 0; /* not forward */
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_CONFIG);
    rec->u.config.resource_type = SL_METADATA_CONFIG_TOPIC;
    rec->u.config.resource_name = sl_slice_from_str("t");
    rec->u.config.name = sl_slice_from_str("");
    REFUSED();
    rec = add(f, SL_METADATA_RECORD_FEATURE_LEVEL);
    rec->u.feature_level.name = sl_slice_from_str("metadata.version");
    rec->u.feature_level.feature_level = -1;
    REFUSED();
    sl_metadata_record_t bad = f->list.items[0];
    bad.version = 9;
    assert_int_equal(sl_metadata_apply(&f->img, &bad), SL_EMALFORMED);
    bad.type = 6;
    assert_int_equal(sl_metadata_apply(&f->img, &bad), SL_EMALFORMED);
#undef REFUSED
    sl_metadata_image_deinit(&before);
}

static void test_configs_brokers_features_producer_ids(void **state)
{
    fixture_t *f = *state;
    test_add_broker(&f->img, 1, "r1");
    test_add_broker(&f->img, 2, NULL);
    assert_false(sl_metadata_broker_find(&f->img, 1)->fenced);
    assert_string_equal(sl_metadata_broker_find(&f->img, 1)->rack, "r1");
    assert_null(sl_metadata_broker_find(&f->img, 2)->rack);
    add_topic(f, "t", 1);
    sl_metadata_record_t *rec = add(f, SL_METADATA_RECORD_CONFIG);
    rec->u.config =
        (sl_config_record_t){SL_METADATA_CONFIG_TOPIC, sl_slice_from_str("t"),
                             sl_slice_from_str("retention.ms"), sl_slice_from_str("1000")};
    assert_int_equal(apply_last(f), 0);
    rec = add(f, SL_METADATA_RECORD_CONFIG);
    rec->u.config =
        (sl_config_record_t){SL_METADATA_CONFIG_TOPIC, sl_slice_from_str("t"),
                             sl_slice_from_str("retention.ms"), sl_slice_from_str("2000")};
    assert_int_equal(apply_last(f), 0);
    assert_string_equal(
        sl_metadata_config_find(&f->img, SL_METADATA_CONFIG_TOPIC, "t", "retention.ms"), "2000");
    rec = add(f, SL_METADATA_RECORD_CONFIG);
    rec->u.config =
        (sl_config_record_t){SL_METADATA_CONFIG_BROKER, sl_slice_from_str(""),
                             sl_slice_from_str("log.retention.ms"), sl_slice_from_str("5")};
    assert_int_equal(apply_last(f), 0);
    rec = add(f, SL_METADATA_RECORD_CONFIG); /* null value deletes */
    rec->u.config = (sl_config_record_t){SL_METADATA_CONFIG_BROKER, sl_slice_from_str(""),
                                         sl_slice_from_str("log.retention.ms"), SL_SLICE_NULL};
    assert_int_equal(apply_last(f), 0);
    assert_null(
        sl_metadata_config_find(&f->img, SL_METADATA_CONFIG_BROKER, "", "log.retention.ms"));
    /* Removing the topic drops its configs. */
    rec = add(f, SL_METADATA_RECORD_REMOVE_TOPIC);
    rec->u.remove_topic.topic_id = uuid_of(1);
    assert_int_equal(apply_last(f), 0);
    assert_null(sl_metadata_topic_find(&f->img, sl_slice_from_str("t")));
    assert_int_equal(f->img.config_count, 0);

    rec = add(f, SL_METADATA_RECORD_FEATURE_LEVEL);
    rec->u.feature_level.name = sl_slice_from_str("metadata.version");
    rec->u.feature_level.feature_level = 21;
    assert_int_equal(apply_last(f), 0);
    assert_int_equal(sl_metadata_feature_level(&f->img, "metadata.version"), 21);
    rec = add(f, SL_METADATA_RECORD_FEATURE_LEVEL);
    rec->u.feature_level.name = sl_slice_from_str("metadata.version");
    rec->u.feature_level.feature_level = 0;
    assert_int_equal(apply_last(f), 0);
    assert_int_equal(f->img.feature_count, 0);

    rec = add(f, SL_METADATA_RECORD_PRODUCER_IDS);
    rec->u.producer_ids = (sl_producer_ids_record_t){2, 200, 1000};
    assert_int_equal(apply_last(f), 0);
    assert_int_equal(f->img.next_producer_id, 1000);
    assert_int_equal(f->img.producer_ids_broker_id, 2);

    /* Fencing forms: Fence/Unfence records and BrokerRegistrationChange. */
    rec = add(f, SL_METADATA_RECORD_BROKER_REGISTRATION_CHANGE);
    rec->u.broker_registration_change.broker_id = 1;
    rec->u.broker_registration_change.broker_epoch = 100;
    rec->u.broker_registration_change.fenced = SL_METADATA_FENCING_FENCE;
    assert_int_equal(apply_last(f), 0);
    assert_true(sl_metadata_broker_find(&f->img, 1)->fenced);
    assert_false(sl_metadata_broker_active(&f->img, 1));
    rec = add(f, SL_METADATA_RECORD_BROKER_REGISTRATION_CHANGE);
    rec->u.broker_registration_change.broker_id = 1;
    rec->u.broker_registration_change.broker_epoch = 100;
    rec->u.broker_registration_change.in_controlled_shutdown = 1;
    assert_int_equal(apply_last(f), 0);
    assert_true(sl_metadata_broker_find(&f->img, 1)->fenced); /* 0: unchanged */
    assert_true(sl_metadata_broker_find(&f->img, 1)->in_controlled_shutdown);
    rec = add(f, SL_METADATA_RECORD_UNREGISTER_BROKER);
    rec->u.unregister_broker = (sl_unregister_broker_record_t){1, 100};
    assert_int_equal(apply_last(f), 0);
    assert_null(sl_metadata_broker_find(&f->img, 1));
    assert_int_equal(f->img.broker_count, 1);
    /* The ignored kinds apply without error. */
    add(f, SL_METADATA_RECORD_NO_OP);
    assert_int_equal(apply_last(f), 0);
    add(f, SL_METADATA_RECORD_ACCESS_CONTROL_ENTRY);
    assert_int_equal(apply_last(f), 0);
}

/* A rich image to a snapshot, through a real record batch, into an empty image: equal. */
static void test_snapshot_round_trip(void **state)
{
    fixture_t *f = *state;
    for (int32_t b = 1; b <= 5; b++)
        test_add_broker(&f->img, b, b % 2 ? "east" : "west");
    sl_metadata_record_t *rec = add(f, SL_METADATA_RECORD_REGISTER_CONTROLLER);
    rec->u.register_controller.controller_id = 1;
    assert_int_equal(apply_last(f), 0);
    rec = add(f, SL_METADATA_RECORD_FEATURE_LEVEL);
    rec->u.feature_level.name = sl_slice_from_str("metadata.version");
    rec->u.feature_level.feature_level = 21;
    assert_int_equal(apply_last(f), 0);
    for (uint8_t t = 1; t <= 3; t++) {
        char name[16];
        snprintf(name, sizeof name, "topic-%d", t);
        const char *stored = sl_arena_strndup(&f->arena, name, strlen(name));
        add_topic(f, stored, t);
        for (int32_t p = 0; p < 4; p++) {
            partition(f, t, p);
            assert_int_equal(apply_last(f), 0);
        }
        rec = add(f, SL_METADATA_RECORD_CONFIG);
        rec->u.config =
            (sl_config_record_t){SL_METADATA_CONFIG_TOPIC, sl_slice_from_str(stored),
                                 sl_slice_from_str("cleanup.policy"), sl_slice_from_str("compact")};
        assert_int_equal(apply_last(f), 0);
    }
    sl_partition_change_record_t *c = change(f, 2, 1);
    c->replicas = IDS(f, 4, 2, 3, 1);
    c->replicas_count = 4;
    c->adding_replicas = IDS(f, 4);
    c->adding_replicas_count = 1;
    c->removing_replicas = IDS(f, 1);
    c->removing_replicas_count = 1;
    c->last_known_elr = IDS(f, 2);
    c->last_known_elr_count = 1;
    c->leader = SL_METADATA_NO_LEADER;
    assert_int_equal(apply_last(f), 0);
    rec = add(f, SL_METADATA_RECORD_PRODUCER_IDS);
    rec->u.producer_ids = (sl_producer_ids_record_t){3, 300, 5000};
    assert_int_equal(apply_last(f), 0);
    rec = add(f, SL_METADATA_RECORD_BROKER_REGISTRATION_CHANGE);
    rec->u.broker_registration_change.broker_id = 5;
    rec->u.broker_registration_change.broker_epoch = 500;
    rec->u.broker_registration_change.fenced = SL_METADATA_FENCING_FENCE;
    assert_int_equal(apply_last(f), 0);

    sl_metadata_records_t snap;
    sl_metadata_records_init(&snap, &f->arena);
    assert_int_equal(sl_metadata_image_snapshot(&f->img, &snap), 0);
    /* features, 5 brokers, 1 controller, 3 topics + 12 partitions, 3 configs, producer ids */
    assert_int_equal(snap.count, 1 + 5 + 1 + 15 + 3 + 1);
    assert_int_equal(snap.items[0].type, SL_METADATA_RECORD_FEATURE_LEVEL);

    sl_buf_t batch;
    sl_buf_init(&batch, 0);
    assert_int_equal(sl_metadata_records_encode_batch(&snap, 0, 1700000000000, &batch), 0);
    sl_record_batch_t hdr;
    assert_int_equal(sl_record_batch_parse(batch.ptr, batch.len, &hdr), 0);
    assert_int_equal(hdr.record_count, (int32_t)snap.count);
    assert_int_equal(sl_record_batch_size(&hdr), batch.len);
    assert_int_equal(sl_record_batch_crc(batch.ptr, batch.len), hdr.crc);

    sl_metadata_image_t loaded;
    sl_metadata_image_init(&loaded);
    int32_t applied = 0;
    assert_int_equal(sl_metadata_apply_batch(&loaded, batch.ptr, batch.len, &f->arena, &applied),
                     0);
    assert_int_equal(applied, (int32_t)snap.count);
    assert_true(sl_metadata_image_equal(&f->img, &loaded));
    assert_true(sl_metadata_image_equal(&loaded, &f->img));
    /* And the equality is not vacuous. */
    rec = add(f, SL_METADATA_RECORD_PRODUCER_IDS);
    rec->u.producer_ids = (sl_producer_ids_record_t){3, 300, 6000};
    assert_int_equal(sl_metadata_apply(&loaded, rec), 0);
    assert_false(sl_metadata_image_equal(&f->img, &loaded));
    /* A corrupted batch is refused before anything applies. */
    batch.ptr[batch.len - 3] ^= 0x40;
    sl_metadata_image_t other;
    sl_metadata_image_init(&other);
    assert_int_equal(sl_metadata_apply_batch(&other, batch.ptr, batch.len, &f->arena, &applied),
                     SL_EMALFORMED);
    assert_int_equal(applied, 0);
    assert_int_equal(other.broker_count, 0);
    sl_metadata_image_deinit(&other);
    sl_metadata_image_deinit(&loaded);
    sl_buf_deinit(&batch);
}

/* Random records of every type (most refused) against a populated image: no crash, no leak, and
 * whatever applied still snapshots and loads back equal. */
static void test_random_records_never_crash(void **state)
{
    fixture_t *f = *state;
    for (int32_t b = 0; b < 4; b++)
        test_add_broker(&f->img, b, NULL);
    add_topic(f, "t", 1);
    partition(f, 1, 0);
    assert_int_equal(apply_last(f), 0);
    int applied = 0;
    for (uint64_t seed = 1; seed <= 4000; seed++) {
        int16_t type = (int16_t)(seed % (SL_METADATA_RECORD_TYPE_MAX + 1));
        const sl_metadata_record_info_t *info = sl_metadata_record_info(type);
        if (info == NULL)
            continue;
        sl_arena_t arena;
        sl_arena_init(&arena, TEST_ARENA_BYTES);
        sl_metadata_record_t rec;
        assert_int_equal(sl_metadata_record_init(&rec, type, info->version_max), 0);
        test_message_fill(info->desc, sl_metadata_record_body(&rec), seed, &arena);
        /* Aim some at what exists, so merges and replacements run too. */
        if (seed % 3 == 0 && type == SL_METADATA_RECORD_PARTITION_CHANGE) {
            rec.u.partition_change.topic_id = uuid_of(1);
            rec.u.partition_change.partition_id = 0;
        }
        if (sl_metadata_apply(&f->img, &rec) == 0)
            applied++;
        sl_arena_deinit(&arena);
    }
    assert_true(applied > 0);
    sl_metadata_image_t copy;
    test_image_copy(&f->img, &copy);
    assert_true(sl_metadata_image_equal(&f->img, &copy));
    sl_metadata_image_deinit(&copy);
}

/* Kafka 4.0.0's bootstrap.checkpoint (written by `kafka-storage format`) loads, and the same
 * image written back gives Kafka's batches byte for byte (given Kafka's timestamps). */
static void test_kafka_snapshot_file(void **state)
{
    fixture_t *f = *state;
    size_t len = 0;
    uint8_t *kafka = test_read_fixture("kafka-4.0.0-bootstrap.checkpoint", &len);
    int64_t last_ms = -1;
    assert_int_equal(sl_metadata_snapshot_read(&f->img, kafka, len, &f->arena, &last_ms), 0);
    assert_int_equal(last_ms, 0);
    assert_int_equal(f->img.feature_count, 3);
    assert_int_equal(sl_metadata_feature_level(&f->img, "metadata.version"), 25);
    assert_int_equal(sl_metadata_feature_level(&f->img, "group.version"), 1);
    assert_int_equal(sl_metadata_feature_level(&f->img, "transaction.version"), 2);

    /* Kafka stamped each batch with its own time: write once per batch with that time and
     * compare that batch. */
    size_t pos = 0;
    for (int batch = 0; batch < 3; batch++) {
        sl_record_batch_t b;
        assert_int_equal(sl_record_batch_parse(kafka + pos, len - pos, &b), 0);
        sl_buf_t ours;
        sl_buf_init(&ours, 0);
        assert_int_equal(sl_metadata_snapshot_write(&f->img, 0, b.base_timestamp, &f->arena, &ours),
                         0);
        assert_int_equal(ours.len, len);
        assert_memory_equal(ours.ptr + pos, kafka + pos, sl_record_batch_size(&b));
        pos += sl_record_batch_size(&b);
        sl_buf_deinit(&ours);
    }
    assert_int_equal(pos, len);

    /* Damaged files are refused. */
    sl_metadata_image_t img;
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_record_batch_t first;
    assert_int_equal(sl_record_batch_parse(kafka, len, &first), 0);
    size_t header_len = sl_record_batch_size(&first);
    struct {
        size_t from, len;
    } cuts[] = {{0, len - 1}, {0, len - 66}, {header_len, len - header_len}, {0, 0}};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        sl_metadata_image_init(&img);
        assert_int_equal(
            sl_metadata_snapshot_read(&img, kafka + cuts[i].from, cuts[i].len, &arena, &last_ms),
            SL_EMALFORMED);
        sl_metadata_image_deinit(&img);
    }
    size_t epoch_fields[3], batch_at = 0; /* the leader epoch is outside the CRC: unchecked */
    for (int i = 0; i < 3; i++) {
        sl_record_batch_t b;
        assert_int_equal(sl_record_batch_parse(kafka + batch_at, len - batch_at, &b), 0);
        epoch_fields[i] = batch_at + SL_RECORD_BATCH_PARTITION_LEADER_EPOCH_OFFSET;
        batch_at += sl_record_batch_size(&b);
    }
    for (size_t at = 0; at < len; at += 3) {
        bool in_epoch = false;
        for (int i = 0; i < 3; i++)
            in_epoch |= at >= epoch_fields[i] && at < epoch_fields[i] + 4;
        if (in_epoch)
            continue;
        uint8_t *bad = test_malloc(len + 1);
        memcpy(bad, kafka, len);
        bad[at] ^= 0x10;
        sl_metadata_image_init(&img);
        if (sl_metadata_snapshot_read(&img, bad, len, &arena, &last_ms) == 0)
            fail_msg("a flipped bit at byte %zu was not noticed", at);
        sl_metadata_image_deinit(&img);
        test_free(bad);
    }
    /* Something after the footer. */
    uint8_t *twice = test_malloc(2 * len);
    memcpy(twice, kafka, len);
    memcpy(twice + len, kafka, len);
    sl_metadata_image_init(&img);
    assert_int_equal(sl_metadata_snapshot_read(&img, twice, 2 * len, &arena, &last_ms),
                     SL_EMALFORMED);
    sl_metadata_image_deinit(&img);
    test_free(twice);
    sl_arena_deinit(&arena);
    test_free(kafka);
}

/* A bigger image (several data batches) through the snapshot file and back. */
static void test_snapshot_file_round_trip(void **state)
{
    fixture_t *f = *state;
    for (int32_t b = 1; b <= 3; b++)
        test_add_broker(&f->img, b, "r");
    for (int t = 1; t <= 3; t++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", t);
        add_topic(f, sl_arena_strndup(&f->arena, name, strlen(name)), (uint8_t)t);
        for (int32_t p = 0; p < 300; p++) {
            partition(f, (uint8_t)t, p);
            assert_int_equal(apply_last(f), 0);
        }
    }
    sl_buf_t file;
    sl_buf_init(&file, 0);
    assert_int_equal(sl_metadata_snapshot_write(&f->img, 1234, 5678, &f->arena, &file), 0);
    int batches = 0;
    for (size_t pos = 0; pos < file.len; batches++) {
        sl_record_batch_t b;
        assert_int_equal(sl_record_batch_parse(file.ptr + pos, file.len - pos, &b), 0);
        pos += sl_record_batch_size(&b);
    }
    assert_int_equal(batches, 2 + 2); /* header, 906 records in 2 batches, footer */
    sl_metadata_image_t loaded;
    sl_metadata_image_init(&loaded);
    int64_t last_ms = 0;
    assert_int_equal(sl_metadata_snapshot_read(&loaded, file.ptr, file.len, &f->arena, &last_ms),
                     0);
    assert_int_equal(last_ms, 1234);
    assert_true(sl_metadata_image_equal(&f->img, &loaded));
    sl_metadata_image_deinit(&loaded);
    sl_buf_deinit(&file);
}

int test_image_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partition_change_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_records_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_configs_brokers_features_producer_ids, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_records_never_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_snapshot_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_file_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests_name("metadata_image", tests, NULL, NULL);
}
