/* Unit tests for src/broker/handlers: ApiVersions and Metadata answered at every version, straight
 * through the handler functions (no sockets), and every answer encodable at its version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker_int.h"
#include "sluice/records.h"

typedef struct {
    sl_config_t cfg;
    sl_broker_t broker;
    sl_request_t req;
    uv_loop_t loop;
    sl_log_dir_t *dir;
    char path[64];
} fixture_t;

static void dir_closed(sl_log_dir_t *dir, void *data)
{
    (void)dir;
    *(bool *)data = true;
}

/* The handlers read the broker's topic table, so the fixture opens a real (empty) one in a temp
 * dir on the sync disk backend. */
static void open_topics(fixture_t *f)
{
    snprintf(f->path, sizeof(f->path), "/tmp/sluice-unit-broker-XXXXXX");
    assert_non_null(mkdtemp(f->path));
    sl_free(f->cfg.log_dirs[0]);
    f->cfg.log_dirs[0] = sl_strdup(f->path);
    f->cfg.log_dirs_count = 1;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(sl_disk_sync_init(&f->loop, &f->broker.disk), 0);
    assert_int_equal(sl_log_dir_open(f->path, f->broker.disk, &sl_clock_system, &f->dir), 0);
    assert_int_equal(sl__topics_open(&f->cfg, &f->dir, &f->broker.topics), 0);
}

static void close_topics(fixture_t *f)
{
    sl__topics_close(f->broker.topics);
    bool closed = false;
    sl_log_dir_close(f->dir, dir_closed, &closed);
    while (!closed)
        uv_run(&f->loop, UV_RUN_ONCE);
    sl_disk_sync_deinit(&f->broker.disk);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->path);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    fixture_t *f = sl_calloc(1, sizeof(*f));
    sl_config_init_defaults(&f->cfg);
    f->cfg.node_id = 7;
    open_topics(f);
    f->broker.cfg = &f->cfg;
    f->broker.advertised_count = 1;
    snprintf(f->broker.advertised[0].name, sizeof(f->broker.advertised[0].name), "PLAINTEXT");
    snprintf(f->broker.advertised[0].host, sizeof(f->broker.advertised[0].host), "broker-0.test");
    f->broker.advertised[0].port = 9092;
    snprintf(f->broker.cluster_id_text, sizeof(f->broker.cluster_id_text),
             "AAAAAAAAAAAAAAAAAAAAAA");
    f->req.broker = &f->broker;
    sl_arena_init(&f->req.arena, SL_MiB);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sl_arena_deinit(&f->req.arena);
    close_topics(f);
    sl_config_deinit(&f->cfg);
    sl_free(f);
    return 0;
}

/* Encodes m at version and decodes it back, proving the answer is valid at that version. */
static void assert_encodable(const sl_message_desc_t *d, int16_t version, const void *m,
                             size_t struct_size)
{
    size_t size = sl_message_size(d, version, m);
    uint8_t *buf = sl_malloc(size);
    sl_writer_t w;
    sl_writer_init(&w, buf, size);
    assert_int_equal(sl_message_encode(d, &w, version, m), 0);
    assert_int_equal(sl_writer_left(&w), 0);
    sl_arena_t arena;
    sl_arena_init(&arena, SL_MiB);
    void *back = sl_arena_alloc(&arena, struct_size);
    sl_reader_t r;
    sl_reader_init(&r, buf, size);
    assert_int_equal(sl_message_decode(d, &r, &arena, version, back), 0);
    assert_int_equal(sl_reader_left(&r), 0);
    sl_arena_deinit(&arena);
    sl_free(buf);
}

static void test_api_versions_every_version(void **state)
{
    fixture_t *f = *state;
    size_t count;
    const sl_api_support_t *support = sl_broker_api_support(&count);
    for (int16_t v = 0; v <= 4; v++) {
        sl_api_versions_request_t in;
        sl_api_versions_request_init(&in);
        in.client_software_name = sl_slice_from_str("sluice-test");
        in.client_software_version = sl_slice_from_str("1.0.0");
        sl_api_versions_response_t out;
        sl_api_versions_response_init(&out);
        f->req.header.api_version = v;
        assert_int_equal(sl__handle_api_versions(&f->req, &in, &out), 0);
        assert_int_equal(out.error_code, SL_KERR_NONE);
        /* a client listener lists every row but the controller's own APIs (the Raft APIs) */
        size_t listed = 0;
        for (size_t i = 0; i < count; i++) {
            if (sl__api_controller_only(support[i].api_key))
                continue;
            assert_true(listed < (size_t)out.api_keys_count);
            assert_int_equal(out.api_keys[listed].api_key, support[i].api_key);
            assert_int_equal(out.api_keys[listed].min_version, support[i].version_min);
            assert_int_equal(out.api_keys[listed].max_version, support[i].version_max);
            listed++;
        }
        assert_int_equal(out.api_keys_count, (int32_t)listed);
        assert_true(listed < count);
        if (v >= 3)
            assert_int_equal(out.supported_features_count, 1);
        assert_encodable(&sl_api_versions_response_desc, v, &out, sizeof(out));
    }
}

static void test_api_versions_rejects_bad_software_name(void **state)
{
    fixture_t *f = *state;
    const char *bad[] = {"!!bad", "-leading", "trailing.", "", "with space"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_api_versions_request_t in;
        sl_api_versions_request_init(&in);
        in.client_software_name = sl_slice_from_str(bad[i]);
        in.client_software_version = sl_slice_from_str("1.0");
        sl_api_versions_response_t out;
        sl_api_versions_response_init(&out);
        f->req.header.api_version = 3;
        assert_int_equal(sl__handle_api_versions(&f->req, &in, &out), 0);
        assert_int_equal(out.error_code, SL_KERR_INVALID_REQUEST);
        assert_int_equal(out.api_keys_count, 0);
    }
}

static void test_metadata_every_version(void **state)
{
    fixture_t *f = *state;
    for (int16_t v = 0; v <= 12; v++) {
        sl_metadata_request_t in;
        sl_metadata_request_init(&in);
        in.topics_count = v == 0 ? 0 : -1; /* all topics */
        sl_metadata_response_t out;
        sl_metadata_response_init(&out);
        f->req.header.api_version = v;
        assert_int_equal(sl__handle_metadata(&f->req, &in, &out), 0);
        assert_int_equal(out.brokers_count, 1);
        assert_int_equal(out.brokers[0].node_id, 7);
        assert_true(sl_slice_eq_str(out.brokers[0].host, "broker-0.test"));
        assert_int_equal(out.brokers[0].port, 9092);
        assert_int_equal(out.controller_id, 7);
        assert_true(sl_slice_eq_str(out.cluster_id, "AAAAAAAAAAAAAAAAAAAAAA"));
        assert_int_equal(out.topics_count, 0);
        assert_encodable(&sl_metadata_response_desc, v, &out, sizeof(out));
    }
}

static sl_metadata_response_t named_topics(fixture_t *f, int16_t v, sl_metadata_request_topic_t *t,
                                           int32_t count)
{
    sl_metadata_request_t in;
    sl_metadata_request_init(&in);
    in.topics = t;
    in.topics_count = count;
    sl_metadata_response_t out;
    sl_metadata_response_init(&out);
    f->req.header.api_version = v;
    assert_int_equal(sl__handle_metadata(&f->req, &in, &out), 0);
    assert_int_equal(out.topics_count, count);
    assert_encodable(&sl_metadata_response_desc, v, &out, sizeof(out));
    return out;
}

static void test_metadata_unknown_topics(void **state)
{
    fixture_t *f = *state;
    f->cfg.auto_create_topics_enable = false;
    sl_metadata_request_topic_t t[3] = {0};
    t[0].name = sl_slice_from_str("orders");
    t[1].name = sl_slice_from_str("bad name!");
    t[2].name = sl_slice_from_str("..");
    for (int16_t v = 0; v <= 12; v++) {
        sl_metadata_response_t out = named_topics(f, v, t, 3);
        assert_int_equal(out.topics[0].error_code, SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_true(sl_slice_eq_str(out.topics[0].name, "orders"));
        assert_int_equal(out.topics[1].error_code, SL_KERR_INVALID_TOPIC_EXCEPTION);
        assert_int_equal(out.topics[2].error_code, SL_KERR_INVALID_TOPIC_EXCEPTION);
        assert_int_equal(out.topics[0].topic_authorized_operations, INT32_MIN);
    }
}

static void test_metadata_auto_creates(void **state)
{
    fixture_t *f = *state;
    f->cfg.auto_create_topics_enable = true;
    f->cfg.num_partitions = 3;
    sl_metadata_request_topic_t t[2] = {0};
    t[0].name = sl_slice_from_str("created-here");
    t[1].name = sl_slice_from_str("__internal");
    sl_metadata_response_t out = named_topics(f, 9, t, 2);
    assert_int_equal(out.topics[0].error_code, SL_KERR_NONE);
    assert_int_equal(out.topics[0].partitions_count, 3);
    assert_int_equal(out.topics[0].partitions[2].leader_id, 7);
    assert_false(sl_uuid_is_zero(&out.topics[0].topic_id));
    /* Internal names are never auto-created. */
    assert_int_equal(out.topics[1].error_code, SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* The request's flag wins over the broker's setting. */
    sl_metadata_request_t in;
    sl_metadata_request_init(&in);
    sl_metadata_request_topic_t other = {.name = sl_slice_from_str("not-created")};
    in.topics = &other;
    in.topics_count = 1;
    in.allow_auto_topic_creation = false;
    sl_metadata_response_t out2;
    sl_metadata_response_init(&out2);
    assert_int_equal(sl__handle_metadata(&f->req, &in, &out2), 0);
    assert_int_equal(out2.topics[0].error_code, SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
}

static void test_metadata_topic_ids(void **state)
{
    fixture_t *f = *state;
    sl_metadata_request_topic_t t = {0};
    t.name = SL_SLICE_NULL;
    t.topic_id.bytes[15] = 1;
    sl_metadata_response_t out = named_topics(f, 12, &t, 1);
    assert_int_equal(out.topics[0].error_code, SL_KERR_UNKNOWN_TOPIC_ID);
    assert_null(out.topics[0].name.ptr);
    /* Before v12 Kafka refuses ids and null names. */
    out = named_topics(f, 10, &t, 1);
    assert_int_equal(out.topics[0].error_code, SL_KERR_INVALID_REQUEST);
}

static void test_support_table_within_schemas(void **state)
{
    (void)state;
    size_t count;
    const sl_api_support_t *support = sl_broker_api_support(&count);
    assert_true(count >= 2);
    for (size_t i = 0; i < count; i++) {
        const sl_api_info_t *info = sl_api_info(support[i].api_key);
        assert_non_null(info);
        assert_true(support[i].version_min >= info->version_min);
        assert_true(support[i].version_max <= info->version_max);
        assert_non_null(sl__handler_find(support[i].api_key));
    }
    assert_null(sl__handler_find(SL_API_END_TXN)); /* not served: not advertised */
}

/* ---- the group coordinator following its __consumer_offsets partition's leadership ---- */

static void replication_closed(void *data)
{
    *(bool *)data = true;
}

static void run_until_coordinator(fixture_t *f, sl_slice_t group, sl_kerr_t want)
{
    for (int i = 0; i < 100000 && sl__groups_coordinator_error(&f->broker, group) != want; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(sl__groups_coordinator_error(&f->broker, group), want);
}

/* A broker whose __consumer_offsets partition becomes a Raft group (one voter: itself): not the
 * coordinator of that partition's groups until its group elects it, then it replays the
 * partition's log (a tombstone written before removes an offset kept in memory) and coordinates;
 * the other, unreplicated partition's groups are served throughout. */
static void test_coordinator_follows_offsets_partition_leadership(void **state)
{
    fixture_t *f = *state;
    f->cfg.offsets_topic_num_partitions = 2;
    f->cfg.quorum_voter_count = 1; /* quorum mode: the replica manager runs */
    f->cfg.controller_quorum_election_timeout_ms = 50;
    f->cfg.controller_quorum_election_backoff_max_ms = 50;
    f->broker.loop = &f->loop;
    f->broker.log_dirs = &f->dir; /* where the replica manager puts the group's quorum state */
    sl__delayed_queue_init(&f->loop, &f->broker.delayed);
    sl_records_scratch_init(&f->broker.records_scratch);
    assert_int_equal(sl__groups_open(&f->broker), 0);
    assert_true(sl__groups_available(&f->broker)); /* creates __consumer_offsets here */
    sl_topic_t *topic = sl__topics_find(f->broker.topics, sl_slice_from_str(SL_OFFSETS_TOPIC));
    assert_non_null(topic);
    sl_slice_t moved = sl_slice_from_str("g"), other = sl_slice_from_str("h");
    int32_t index = sl_group_partition_for(moved, 2);
    if (sl_group_partition_for(other, 2) == index)
        other = sl_slice_from_str("i");
    assert_int_not_equal(sl_group_partition_for(other, 2), index);
    assert_int_equal(sl__groups_coordinator_error(&f->broker, moved), SL_KERR_NONE);

    /* an offset in memory, its tombstone in the log: only a replay removes it */
    sl_group_coordinator_t *coord = f->broker.groups->coord;
    sl_group_offset_t o = {.offset = 42, .leader_epoch = -1, .metadata = sl_slice_from_str("")};
    sl_slice_t t = sl_slice_from_str("t");
    assert_int_equal(sl_group_offset_put(coord, moved, t, 0, &o), 0);
    sl_partition_t *p = &topic->partitions[index];
    p->leader_epoch = 1; /* Raft epochs start at 1: a group refuses a log holding epoch 0 */
    sl__offsets_delete_write(&f->broker, moved, t, 0);
    for (int i = 0; i < 100000 && sl_log_synced_offset(p->log) < 1; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(sl_log_end_offset(p->log), 1);

    assert_int_equal(sl__replication_start(&f->broker), 0);
    int32_t self = f->cfg.node_id;
    assert_int_equal(sl__partition_replication_start(&f->broker, p, &self, 1), 0);
    assert_int_equal(sl__groups_coordinator_error(&f->broker, moved), SL_KERR_NOT_COORDINATOR);
    assert_int_equal(sl__groups_coordinator_id(&f->broker, moved), -1); /* no leader yet */
    assert_int_equal(sl__groups_coordinator_error(&f->broker, other), SL_KERR_NONE);
    assert_int_equal(sl__groups_coordinator_id(&f->broker, other), self);
    run_until_coordinator(f, moved, SL_KERR_NONE);
    assert_int_equal(sl__groups_coordinator_id(&f->broker, moved), self);
    sl_group_offset_t got;
    assert_false(sl_group_offset_get(coord, moved, t, 0, &got)); /* the replay ran */
    assert_int_equal(f->broker.groups->owned[index].state, SL_OFFSETS_OWNED);

    bool closed = false;
    sl__replication_close(&f->broker, replication_closed, &closed);
    for (int i = 0; i < 100000 && !closed; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(closed);
    f->broker.stopping = true; /* as the broker stops: the queue expires the coordinator's tick */
    sl__delayed_queue_close(&f->broker.delayed, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    sl__groups_destroy(&f->broker);
    sl_buf_deinit(&f->broker.records_scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_versions_every_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_versions_rejects_bad_software_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_metadata_every_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_unknown_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_auto_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_topic_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_support_table_within_schemas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coordinator_follows_offsets_partition_leadership,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
