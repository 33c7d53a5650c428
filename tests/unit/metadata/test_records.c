/* test_records: the metadata records codec. Every record type at every version through
 * fill-encode-decode-encode; the frame (Kafka's MetadataRecordSerde: frame version 1, type,
 * version as unsigned varints) byte by byte; a __cluster_metadata segment written by a real Apache
 * Kafka 4.0.0 (kafka-4.0.0-cluster-metadata.log: a topic with 3 partitions and a config created,
 * another created and deleted) decoded and re-encoded to the same bytes; refused garbage. */
#include "test_support.h"

#include "message_fill.h"
#include "sluice/record_batch.h"
#include "sluice/records.h"

static uint8_t *encode_record(const sl_metadata_record_t *rec, sl_arena_t *arena, size_t *len)
{
    size_t n = sl_metadata_record_size(rec);
    assert_true(n > 0);
    uint8_t *buf = sl_arena_alloc(arena, n);
    sl_writer_t w;
    sl_writer_init(&w, buf, n);
    assert_int_equal(sl_metadata_record_encode(&w, rec), 0);
    assert_int_equal(sl_writer_left(&w), 0);
    *len = n;
    return buf;
}

static void test_every_record_round_trips(void **state)
{
    (void)state;
    int types = 0;
    for (int16_t type = 0; type <= SL_METADATA_RECORD_TYPE_MAX; type++) {
        const sl_metadata_record_info_t *info = sl_metadata_record_info(type);
        if (info == NULL)
            continue;
        types++;
        assert_int_equal(info->type, type);
        for (int16_t v = info->version_min; v <= info->version_max; v++) {
            for (uint64_t seed = 1; seed <= 8; seed++) {
                sl_arena_t arena;
                sl_arena_init(&arena, TEST_ARENA_BYTES);
                sl_metadata_record_t rec, back;
                assert_int_equal(sl_metadata_record_init(&rec, type, v), 0);
                test_message_fill(info->desc, sl_metadata_record_body(&rec),
                                  seed * 31 + (uint64_t)v, &arena);
                size_t n1 = 0, n2 = 0;
                uint8_t *b1 = encode_record(&rec, &arena, &n1);
                /* The frame: version 1, then the type and version (all < 128: one byte each). */
                assert_int_equal(b1[0], 1);
                assert_int_equal(b1[1], type);
                assert_int_equal(b1[2], v);
                sl_reader_t r;
                sl_reader_init(&r, b1, n1);
                int rc = sl_metadata_record_decode(&r, &arena, &back);
                if (rc != 0)
                    fail_msg("%s v%d seed %llu: %s", info->name, v, (unsigned long long)seed,
                             sl_strerror(rc));
                assert_int_equal(back.type, type);
                assert_int_equal(back.version, v);
                uint8_t *b2 = encode_record(&back, &arena, &n2);
                assert_int_equal(n1, n2);
                assert_memory_equal(b1, b2, n1);
                sl_arena_deinit(&arena);
            }
        }
    }
    assert_int_equal(types, 25); /* every schema in metadata/ */
    assert_null(sl_metadata_record_info(6));
    assert_null(sl_metadata_record_info(-1));
    assert_null(sl_metadata_record_info(SL_METADATA_RECORD_TYPE_MAX + 1));
}

/* A PartitionChangeRecord v0 built by hand from the schema: only the ISR changes. */
static void test_partition_change_bytes(void **state)
{
    (void)state;
    sl_metadata_record_t rec;
    assert_int_equal(sl_metadata_record_init(&rec, SL_METADATA_RECORD_PARTITION_CHANGE, 0), 0);
    sl_partition_change_record_t *pc = &rec.u.partition_change;
    /* The schema's defaults mean "unchanged". */
    assert_int_equal(pc->leader, -2);
    assert_int_equal(pc->isr_count, -1);
    assert_int_equal(pc->replicas_count, -1);
    assert_int_equal(pc->leader_recovery_state, -1);
    int32_t isr[] = {1, 2};
    pc->partition_id = 7;
    memset(pc->topic_id.bytes, 0xab, 16);
    pc->isr = isr;
    pc->isr_count = 2;
    static const uint8_t want[] = {
        0x01, 0x05, 0x00,       /* frame version 1, PartitionChangeRecord (5), v0 */
        0x00, 0x00, 0x00, 0x07, /* PartitionId */
        0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
        0xab, 0xab, 0xab, 0xab, 0xab,                                     /* TopicId */
        0x01,                                                             /* one tagged field */
        0x00, 0x09, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, /* tag 0 Isr [1, 2] */
    };
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    size_t n = 0;
    uint8_t *got = encode_record(&rec, &arena, &n);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(got, want, n);
    sl_arena_deinit(&arena);
}

static int decode_bytes(const uint8_t *data, size_t len, sl_metadata_record_t *out,
                        sl_arena_t *arena)
{
    sl_reader_t r;
    sl_reader_init(&r, data, len);
    return sl_metadata_record_decode(&r, arena, out);
}

static void test_garbage_refused(void **state)
{
    (void)state;
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_metadata_record_t rec;
    /* NoOpRecord v0: frame, type 20, version 0, an empty tagged section. */
    static const uint8_t noop[] = {0x01, 20, 0x00, 0x00};
    assert_int_equal(decode_bytes(noop, sizeof noop, &rec, &arena), 0);
    assert_int_equal(rec.type, SL_METADATA_RECORD_NO_OP);
    static const uint8_t frame0[] = {0x00, 20, 0x00, 0x00}; /* the 2.8 preview's frame */
    assert_int_equal(decode_bytes(frame0, sizeof frame0, &rec, &arena), SL_EMALFORMED);
    static const uint8_t frame2[] = {0x02, 20, 0x00, 0x00};
    assert_int_equal(decode_bytes(frame2, sizeof frame2, &rec, &arena), SL_EMALFORMED);
    static const uint8_t unknown_type[] = {0x01, 6, 0x00, 0x00};
    assert_int_equal(decode_bytes(unknown_type, sizeof unknown_type, &rec, &arena), SL_EMALFORMED);
    static const uint8_t big_type[] = {0x01, 0x80, 0x80, 0x02, 0x00, 0x00}; /* 32768 */
    assert_int_equal(decode_bytes(big_type, sizeof big_type, &rec, &arena), SL_EMALFORMED);
    static const uint8_t new_version[] = {0x01, 20, 0x01, 0x00};
    assert_int_equal(decode_bytes(new_version, sizeof new_version, &rec, &arena), SL_EUNSUPPORTED);
    static const uint8_t trailing[] = {0x01, 20, 0x00, 0x00, 0x00};
    assert_int_equal(decode_bytes(trailing, sizeof trailing, &rec, &arena), SL_EMALFORMED);
    static const uint8_t cut[] = {0x01, 20};
    assert_int_equal(decode_bytes(cut, sizeof cut, &rec, &arena), SL_EMALFORMED);
    assert_int_equal(decode_bytes(cut, 0, &rec, &arena), SL_EMALFORMED);
    /* A TopicRecord whose name length runs past the end. */
    static const uint8_t topic_cut[] = {0x01, 2, 0x00, 0x7f, 'a'};
    assert_int_equal(decode_bytes(topic_cut, sizeof topic_cut, &rec, &arena), SL_EMALFORMED);
    assert_int_equal(sl_metadata_record_init(&rec, SL_METADATA_RECORD_TOPIC, 1), SL_EUNSUPPORTED);
    assert_int_equal(sl_metadata_record_init(&rec, 6, 0), SL_EUNSUPPORTED);
    sl_arena_deinit(&arena);
}

/* ---- a real Kafka 4.0.0 metadata log ------------------------------------------------------------
 */
typedef struct {
    sl_arena_t *arena;
    int counts[SL_METADATA_RECORD_TYPE_MAX + 1];
    int total;
} kafka_log_t;

static int check_kafka_record(const sl_record_t *r, void *data)
{
    kafka_log_t *k = data;
    assert_non_null(r->value.ptr);
    sl_metadata_record_t rec;
    int rc = decode_bytes(r->value.ptr, r->value.len, &rec, k->arena);
    if (rc != 0)
        fail_msg("record at offset %lld: %s", (long long)r->offset, sl_strerror(rc));
    size_t n = 0;
    uint8_t *again = encode_record(&rec, k->arena, &n);
    assert_int_equal(n, r->value.len);
    assert_memory_equal(again, r->value.ptr, n);
    k->counts[rec.type]++;
    k->total++;
    return 0;
}

static void test_kafka_log_decodes_byte_exact(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *file = test_read_fixture("kafka-4.0.0-cluster-metadata.log", &len);
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_buf_t scratch;
    sl_records_scratch_init(&scratch);
    kafka_log_t k = {.arena = &arena};
    size_t pos = 0;
    while (pos < len) {
        sl_record_batch_t b;
        assert_int_equal(sl_record_batch_parse(file + pos, len - pos, &b), 0);
        size_t size = sl_record_batch_size(&b);
        if ((b.attributes & SL_RECORD_BATCH_CONTROL) == 0)
            assert_int_equal(sl_records_iterate(file + pos, size, &scratch, check_kafka_record, &k),
                             0);
        pos += size;
    }
    /* What Kafka wrote for: format, broker start, two topics created, one deleted. */
    assert_true(k.counts[SL_METADATA_RECORD_FEATURE_LEVEL] >= 1);
    assert_true(k.counts[SL_METADATA_RECORD_REGISTER_BROKER] >= 1);
    assert_int_equal(k.counts[SL_METADATA_RECORD_TOPIC], 2);
    assert_int_equal(k.counts[SL_METADATA_RECORD_PARTITION], 4);
    assert_int_equal(k.counts[SL_METADATA_RECORD_REMOVE_TOPIC], 1);
    assert_true(k.counts[SL_METADATA_RECORD_CONFIG] >= 1);
    /* The second segment (CreatePartitions, a manual assignment) byte for byte too. */
    test_free(file);
    file = test_read_fixture("kafka-4.0.0-cluster-metadata-2.log", &len);
    kafka_log_t k2 = {.arena = &arena};
    for (pos = 0; pos < len;) {
        sl_record_batch_t b;
        assert_int_equal(sl_record_batch_parse(file + pos, len - pos, &b), 0);
        size_t size = sl_record_batch_size(&b);
        if ((b.attributes & SL_RECORD_BATCH_CONTROL) == 0)
            assert_int_equal(
                sl_records_iterate(file + pos, size, &scratch, check_kafka_record, &k2), 0);
        pos += size;
    }
    assert_int_equal(k2.counts[SL_METADATA_RECORD_PARTITION], 7);
    assert_int_equal(k2.counts[SL_METADATA_RECORD_PARTITION_CHANGE], 5);
    sl_buf_deinit(&scratch);
    sl_arena_deinit(&arena);
    test_free(file);
}

/* The same segment replayed into an image: what Kafka's own brokers would know. */
static void test_kafka_log_replays(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *file = test_read_fixture("kafka-4.0.0-cluster-metadata.log", &len);
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_metadata_image_t img;
    sl_metadata_image_init(&img);
    int32_t total = 0;
    for (size_t pos = 0; pos < len;) {
        sl_record_batch_t b;
        assert_int_equal(sl_record_batch_parse(file + pos, len - pos, &b), 0);
        int32_t applied = 0;
        int rc =
            sl_metadata_apply_batch(&img, file + pos, sl_record_batch_size(&b), &arena, &applied);
        if (rc != 0)
            fail_msg("batch at offset %lld: %s", (long long)b.base_offset, sl_strerror(rc));
        total += applied;
        pos += sl_record_batch_size(&b);
    }
    assert_true(total >= 10);
    /* One broker, which ended in controlled shutdown and fenced (the test stopped Kafka). */
    assert_int_equal(img.broker_count, 1);
    const sl_metadata_broker_t *broker = sl_metadata_broker_find(&img, 1);
    assert_non_null(broker);
    assert_true(broker->fenced);
    assert_true(broker->in_controlled_shutdown);
    assert_int_equal(broker->epoch, 7); /* the offset of its RegisterBrokerRecord */
    assert_string_equal(broker->endpoints[0].name, "PLAINTEXT");
    assert_string_equal(broker->endpoints[0].host, "127.0.0.1");
    assert_int_equal(broker->log_dir_count, 1);
    assert_true(sl_metadata_feature_level(&img, "metadata.version") > 0);
    assert_int_equal(img.next_producer_id, 1000);
    /* cap-topic with its 3 partitions and its config; "gone" removed. The shutdown of the only
     * ISR member left every partition without a leader and kept it in the ISR. */
    assert_null(sl_metadata_topic_find(&img, sl_slice_from_str("gone")));
    const sl_metadata_topic_t *t = sl_metadata_topic_find(&img, sl_slice_from_str("cap-topic"));
    assert_non_null(t);
    assert_int_equal(t->partition_count, 3);
    for (int32_t p = 0; p < 3; p++) {
        const sl_metadata_partition_t *part = sl_metadata_partition_find(t, p);
        assert_non_null(part);
        assert_int_equal(part->leader, SL_METADATA_NO_LEADER);
        assert_int_equal(part->replicas.count, 1);
        assert_int_equal(part->isr.count, 1);
        assert_int_equal(part->isr.ids[0], 1);
        assert_int_equal(part->leader_epoch, 1);
        assert_int_equal(part->partition_epoch, 1);
        assert_memory_equal(&part->directories[0], &broker->log_dirs[0], 16);
    }
    assert_string_equal(
        sl_metadata_config_find(&img, SL_METADATA_CONFIG_TOPIC, "cap-topic", "retention.ms"),
        "123456");
    /* And that image survives its own snapshot. */
    sl_metadata_image_t copy;
    test_image_copy(&img, &copy);
    assert_true(sl_metadata_image_equal(&img, &copy));
    sl_metadata_image_deinit(&copy);
    sl_metadata_image_deinit(&img);
    sl_arena_deinit(&arena);
    test_free(file);
}

/* ---- the controller's decisions against Kafka's own --------------------------------------------
 * At each batch where Kafka's controller decided something, the same decision made by
 * src/metadata on the image before that batch must lead to the same image as Kafka's records. */
typedef struct {
    sl_arena_t *arena;
    sl_uuid_t topic_id;
} batch_topic_t;

static int find_topic_id(const sl_record_t *r, void *data)
{
    batch_topic_t *bt = data;
    sl_reader_t rd;
    sl_reader_init(&rd, r->value.ptr, r->value.len);
    sl_metadata_record_t rec;
    if (sl_metadata_record_decode(&rd, bt->arena, &rec) == 0 &&
        rec.type == SL_METADATA_RECORD_TOPIC)
        bt->topic_id = rec.u.topic.topic_id;
    return 0;
}

/* What one decision needs to know about the batch Kafka wrote for it. */
typedef struct {
    const sl_metadata_image_t *img;
    sl_metadata_sessions_t *sessions;
    const sl_metadata_policy_t *policy;
    int64_t offset;       /* the batch's base offset */
    sl_uuid_t topic_id;   /* of a TopicRecord in the batch (Kafka drew it) */
    int64_t broker_epoch; /* of broker 1 */
    sl_metadata_records_t *out;
} decide_t;

/* Our decision for the batch at d->offset; error -1: no decision there. */
typedef sl_metadata_result_t (*decide_fn)(decide_t *d);

static sl_metadata_result_t heartbeat_of(decide_t *d, bool want_fence, bool want_shut_down)
{
    sl_metadata_heartbeat_t hb = {.broker_id = 1,
                                  .broker_epoch = d->broker_epoch,
                                  .current_metadata_offset = d->offset,
                                  .want_fence = want_fence,
                                  .want_shut_down = want_shut_down};
    sl_metadata_heartbeat_reply_t reply;
    sl_metadata_result_t res =
        sl_metadata_broker_heartbeat(d->img, d->sessions, d->policy, &hb, 0, d->out, &reply);
    if (want_shut_down)
        assert_false(reply.should_shut_down); /* it still led partitions when it asked */
    return res;
}

/* Segment 1: unfence, a topic with a config, another created and deleted, a producer id block,
 * SIGTERM's controlled shutdown of the only ISR member, fenced as it left. */
static sl_metadata_result_t decide_log1(decide_t *d)
{
    sl_metadata_config_entry_t retention = {"retention.ms", "123456"};
    sl_metadata_create_topic_t create = {.topic_id = d->topic_id, .replication_factor = 1};
    int64_t first_id = -1;
    sl_metadata_result_t res;
    switch (d->offset) {
    case 9:
        return heartbeat_of(d, false, false);
    case 10:
        create.name = sl_slice_from_str("cap-topic");
        create.partition_count = 3;
        create.configs = &retention;
        create.config_count = 1;
        return sl_metadata_create_topic(d->img, d->policy, &create, 0, d->out);
    case 15:
        create.name = sl_slice_from_str("gone");
        create.partition_count = 1;
        return sl_metadata_create_topic(d->img, d->policy, &create, 0, d->out);
    case 17:
        return sl_metadata_delete_topic(d->img, sl_slice_from_str("gone"), d->out);
    case 18:
        res = sl_metadata_allocate_producer_ids(d->img, 1, d->broker_epoch, d->out, &first_id);
        assert_int_equal(first_id, 0);
        return res;
    case 25:
        return heartbeat_of(d, false, true);
    case 29:
        return heartbeat_of(d, true, false);
    default:
        return (sl_metadata_result_t){.error = -1};
    }
}

/* Segment 2: unfence, a topic of 2 partitions grown to 5 (CreatePartitions), a topic with a
 * manual assignment and two configs, deleted, controlled shutdown, fence. */
static sl_metadata_result_t decide_log2(decide_t *d)
{
    sl_metadata_config_entry_t configs[] = {{"cleanup.policy", "compact"},
                                            {"segment.bytes", "1048576"}};
    int32_t one[] = {1};
    sl_metadata_replicas_t assign[] = {{one, 1}, {one, 1}};
    sl_metadata_create_topic_t create = {.topic_id = d->topic_id};
    switch (d->offset) {
    case 16:
        return heartbeat_of(d, false, false);
    case 18:
        create.name = sl_slice_from_str("grow");
        create.partition_count = 2;
        create.replication_factor = 1;
        return sl_metadata_create_topic(d->img, d->policy, &create, 0, d->out);
    case 21:
        return sl_metadata_create_partitions(d->img, sl_slice_from_str("grow"), 5, NULL, 0, 0,
                                             d->out);
    case 25:
        create.name = sl_slice_from_str("manual");
        create.partition_count = -1;
        create.replication_factor = -1;
        create.assignments = assign;
        create.assignment_count = 2;
        create.configs = configs;
        create.config_count = 2;
        return sl_metadata_create_topic(d->img, d->policy, &create, 0, d->out);
    case 30:
        return sl_metadata_delete_topic(d->img, sl_slice_from_str("manual"), d->out);
    case 35:
        return heartbeat_of(d, false, true);
    case 42:
        return heartbeat_of(d, true, false);
    default:
        return (sl_metadata_result_t){.error = -1};
    }
}

/* Replays a segment; before each batch, our decision for it on the image so far must give the
 * same image as Kafka's batch. Returns how many decisions were compared. */
static int replay_and_compare(const char *fixture, int64_t broker_epoch, decide_fn decide)
{
    size_t len = 0;
    uint8_t *file = test_read_fixture(fixture, &len);
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_buf_t scratch;
    sl_records_scratch_init(&scratch);
    sl_metadata_image_t img;
    sl_metadata_image_init(&img);
    sl_metadata_sessions_t sessions;
    sl_metadata_sessions_init(&sessions);
    sl_metadata_policy_t policy = {.default_partitions = 1,
                                   .default_replication_factor = 1,
                                   .broker_session_timeout_ms = 9000};
    int compared = 0;
    for (size_t pos = 0; pos < len;) {
        sl_record_batch_t b;
        assert_int_equal(sl_record_batch_parse(file + pos, len - pos, &b), 0);
        size_t size = sl_record_batch_size(&b);
        batch_topic_t bt = {.arena = &arena};
        if ((b.attributes & SL_RECORD_BATCH_CONTROL) == 0)
            assert_int_equal(sl_records_iterate(file + pos, size, &scratch, find_topic_id, &bt), 0);
        sl_metadata_records_t ours;
        sl_metadata_records_init(&ours, &arena);
        assert_int_equal(sl_metadata_sessions_touch(&sessions, 1, 0), 0);
        decide_t d = {&img, &sessions, &policy, b.base_offset, bt.topic_id, broker_epoch, &ours};
        sl_metadata_result_t res = decide(&d);
        if (res.error != -1) {
            if (res.error != 0)
                fail_msg("%s offset %lld: %s", fixture, (long long)b.base_offset, res.message);
            sl_metadata_image_t mine, kafka;
            test_image_copy(&img, &mine);
            test_apply_all(&mine, &ours);
            test_image_copy(&img, &kafka);
            assert_int_equal(sl_metadata_apply_batch(&kafka, file + pos, size, &arena, NULL), 0);
            if (!sl_metadata_image_equal(&mine, &kafka))
                fail_msg("%s offset %lld: our decision's image differs from Kafka's", fixture,
                         (long long)b.base_offset);
            sl_metadata_image_deinit(&mine);
            sl_metadata_image_deinit(&kafka);
            compared++;
        }
        assert_int_equal(sl_metadata_apply_batch(&img, file + pos, size, &arena, NULL), 0);
        pos += size;
    }
    sl_metadata_sessions_deinit(&sessions);
    sl_metadata_image_deinit(&img);
    sl_buf_deinit(&scratch);
    sl_arena_deinit(&arena);
    test_free(file);
    return compared;
}

static void test_decisions_match_kafka(void **state)
{
    (void)state;
    assert_int_equal(replay_and_compare("kafka-4.0.0-cluster-metadata.log", 7, decide_log1), 7);
    assert_int_equal(replay_and_compare("kafka-4.0.0-cluster-metadata-2.log", 12, decide_log2), 7);
}

int test_records_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_record_round_trips),
        cmocka_unit_test(test_partition_change_bytes),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_kafka_log_decodes_byte_exact),
        cmocka_unit_test(test_kafka_log_replays),
        cmocka_unit_test(test_decisions_match_kafka),
    };
    return cmocka_run_group_tests_name("metadata_records", tests, NULL, NULL);
}
