/* test_codec: the primitive readers and writers and the descriptor interpreter on hand-built
 * bytes: compact vs classic lengths, nulls, tagged fields, varint overflow, hostile lengths and
 * counts, arena limits, defaults, and a fill-encode-decode-encode check over every message. */
#include "test_support.h"

#include "message_fill.h"

static int decode_bytes(const sl_message_desc_t *d, const uint8_t *data, size_t len,
                        int16_t version, void *out, sl_arena_t *arena)
{
    /* Decoded slices point into copy; the tests only compare them while copy lives, so they are
     * checked by the callers through the returned struct before the next decode. */
    sl_reader_t r;
    sl_reader_init(&r, data, len);
    int rc = sl_message_decode(d, &r, arena, version, out);
    return rc == 0 && sl_reader_left(&r) != 0 ? 1 : rc; /* 1: decoded, with trailing bytes */
}

static void test_uvarint(void **state)
{
    (void)state;
    static const uint8_t max32[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    static const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    static const uint8_t sixth[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t cut[] = {0x80, 0x80};
    sl_reader_t r;
    uint32_t v;
    sl_reader_init(&r, max32, sizeof max32);
    assert_int_equal(sl_read_uvarint(&r, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    sl_reader_init(&r, over, sizeof over);
    assert_int_equal(sl_read_uvarint(&r, &v), SL_EMALFORMED);
    sl_reader_init(&r, sixth, sizeof sixth);
    assert_int_equal(sl_read_uvarint(&r, &v), SL_EMALFORMED);
    sl_reader_init(&r, cut, sizeof cut);
    assert_int_equal(sl_read_uvarint(&r, &v), SL_EMALFORMED);
    /* Round trips of zigzag varint / varlong at the edges. */
    static const int64_t longs[] = {0, -1, 1, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, 300};
    for (size_t i = 0; i < SL_ARRAY_LEN(longs); i++) {
        uint8_t buf[10];
        sl_writer_t w;
        sl_writer_init(&w, buf, sizeof buf);
        assert_int_equal(sl_write_varlong(&w, longs[i]), 0);
        assert_int_equal((size_t)(w.pos - buf), sl_varlong_size(longs[i]));
        int64_t back;
        sl_reader_init(&r, buf, (size_t)(w.pos - buf));
        assert_int_equal(sl_read_varlong(&r, &back), 0);
        assert_true(back == longs[i]);
        if (longs[i] >= INT32_MIN && longs[i] <= INT32_MAX) {
            int32_t v32;
            sl_writer_init(&w, buf, sizeof buf);
            assert_int_equal(sl_write_varint(&w, (int32_t)longs[i]), 0);
            assert_int_equal((size_t)(w.pos - buf), sl_varint_size((int32_t)longs[i]));
            sl_reader_init(&r, buf, (size_t)(w.pos - buf));
            assert_int_equal(sl_read_varint(&r, &v32), 0);
            assert_int_equal(v32, longs[i]);
        }
    }
    uint8_t one[1];
    sl_writer_t w;
    sl_writer_init(&w, one, sizeof one);
    assert_int_equal(sl_write_i16(&w, 5), SL_ELIMIT);
    assert_int_equal(sl_write_uvarint(&w, 200), SL_ELIMIT);
}

static void test_classic_and_compact(void **state)
{
    (void)state;
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_metadata_request_t m;
    const sl_message_desc_t *d = &sl_metadata_request_desc;
    /* v1: int32 count, int16 string length. */
    static const uint8_t v1[] = {0, 0, 0, 1, 0, 1, 'a'};
    assert_int_equal(decode_bytes(d, v1, sizeof v1, 1, &m, &arena), 0);
    assert_int_equal(m.topics_count, 1);
    assert_true(sl_slice_eq_str(m.topics[0].name, "a"));
    /* v9: uvarint count + 1, uvarint length + 1, a tagged section per struct. */
    static const uint8_t v9[] = {2, 2, 'a', 0, 1, 0, 0, 0};
    assert_int_equal(decode_bytes(d, v9, sizeof v9, 9, &m, &arena), 0);
    assert_int_equal(m.topics_count, 1);
    assert_true(sl_slice_eq_str(m.topics[0].name, "a"));
    assert_true(m.allow_auto_topic_creation);
    /* The classic bytes are not valid compact bytes and vice versa. */
    assert_int_not_equal(decode_bytes(d, v1, sizeof v1, 9, &m, &arena), 0);
    assert_int_not_equal(decode_bytes(d, v9, sizeof v9, 1, &m, &arena), 0);
    /* Trailing bytes after the body are left in the reader, not an error. */
    static const uint8_t v1_trailing[] = {0, 0, 0, 0, 0xde, 0xad};
    sl_reader_t r;
    sl_reader_init(&r, v1_trailing, sizeof v1_trailing);
    assert_int_equal(sl_message_decode(d, &r, &arena, 1, &m), 0);
    assert_int_equal(sl_reader_left(&r), 2);
    sl_arena_deinit(&arena);
}

static void test_nulls(void **state)
{
    (void)state;
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_metadata_request_t m;
    const sl_message_desc_t *d = &sl_metadata_request_desc;
    static const uint8_t null_classic[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_bytes(d, null_classic, 4, 1, &m, &arena), 0);
    assert_int_equal(m.topics_count, -1);
    /* Topics is nullable only from v1. */
    assert_int_equal(decode_bytes(d, null_classic, 4, 0, &m, &arena), SL_EMALFORMED);
    static const uint8_t null_compact[] = {0, 1, 0, 0, 0};
    assert_int_equal(decode_bytes(d, null_compact, sizeof null_compact, 9, &m, &arena), 0);
    assert_int_equal(m.topics_count, -1);
    /* A null topic name: nullable from v10 only. */
    static const uint8_t null_name9[] = {2, 0, 0, 1, 0, 0, 0};
    assert_int_equal(decode_bytes(d, null_name9, sizeof null_name9, 9, &m, &arena), SL_EMALFORMED);
    uint8_t v10[1 + 16 + 6] = {2, 0};
    memcpy(v10 + 17, (const uint8_t[]){0, 0, 1, 0, 0, 0}, 6);
    v10[1] = 0xab; /* first byte of the topic id */
    assert_int_equal(decode_bytes(d, v10, sizeof v10, 10, &m, &arena), 0);
    assert_int_equal(m.topics_count, 1);
    assert_int_equal(m.topics[0].topic_id.bytes[0], 0xab);
    assert_null(m.topics[0].name.ptr);
    /* Encoding: null where not nullable is written as empty; null where nullable as null. */
    uint8_t out[64];
    sl_writer_t w;
    m.topics_count = -1;
    sl_writer_init(&w, out, sizeof out);
    assert_int_equal(sl_message_encode(d, &w, 0, &m), 0);
    assert_memory_equal(out, "\0\0\0\0", 4);
    sl_writer_init(&w, out, sizeof out);
    assert_int_equal(sl_message_encode(d, &w, 1, &m), 0);
    assert_memory_equal(out, "\xff\xff\xff\xff", 4);
    /* An empty, non-null string keeps a non-NULL pointer. */
    static const uint8_t empty_name[] = {0, 0, 0, 1, 0, 0};
    assert_int_equal(decode_bytes(d, empty_name, sizeof empty_name, 1, &m, &arena), 0);
    assert_non_null(m.topics[0].name.ptr);
    assert_int_equal(m.topics[0].name.len, 0);
    sl_arena_deinit(&arena);
}

static void test_hostile_lengths(void **state)
{
    (void)state;
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    sl_metadata_request_t m;
    const sl_message_desc_t *d = &sl_metadata_request_desc;
    static const uint8_t neg_string[] = {0, 0, 0, 1, 0xff, 0xfe};
    static const uint8_t neg_count[] = {0xff, 0xff, 0xff, 0xfe};
    static const uint8_t big_count[] = {0, 0, 0x03, 0xe8, 0, 1, 'a'};
    static const uint8_t max_count[] = {0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'};
    static const uint8_t long_string[] = {0, 0, 0, 1, 0x7f, 0xff, 'a'};
    static const uint8_t varint6[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0};
    static const uint8_t varint_max[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0};
    static const uint8_t compact_big[] = {0x81, 0x01, 2, 'a', 0, 1, 0, 0, 0};
    assert_int_equal(decode_bytes(d, neg_string, sizeof neg_string, 1, &m, &arena), SL_EMALFORMED);
    assert_int_equal(decode_bytes(d, neg_count, sizeof neg_count, 1, &m, &arena), SL_EMALFORMED);
    assert_int_equal(decode_bytes(d, big_count, sizeof big_count, 1, &m, &arena), SL_EMALFORMED);
    assert_int_equal(decode_bytes(d, max_count, sizeof max_count, 1, &m, &arena), SL_EMALFORMED);
    assert_int_equal(decode_bytes(d, long_string, sizeof long_string, 1, &m, &arena),
                     SL_EMALFORMED);
    assert_int_equal(decode_bytes(d, varint6, sizeof varint6, 9, &m, &arena), SL_EMALFORMED);
    assert_int_equal(decode_bytes(d, varint_max, sizeof varint_max, 9, &m, &arena), SL_EMALFORMED);
    assert_int_equal(decode_bytes(d, compact_big, sizeof compact_big, 9, &m, &arena),
                     SL_EMALFORMED);
    /* Versions outside the schema. */
    assert_int_equal(decode_bytes(d, neg_count, 0, 13, &m, &arena), SL_EUNSUPPORTED);
    assert_int_equal(decode_bytes(d, neg_count, 0, -1, &m, &arena), SL_EUNSUPPORTED);
    sl_arena_deinit(&arena);
    /* An arena too small for the array: SL_ELIMIT, not a crash. */
    static const uint8_t two[] = {0, 0, 0, 2, 0, 1, 'a', 0, 1, 'b'};
    sl_arena_init(&arena, 16);
    assert_int_equal(decode_bytes(d, two, sizeof two, 1, &m, &arena), SL_ELIMIT);
    sl_arena_deinit(&arena);
    assert_int_equal(decode_bytes(d, two, sizeof two, 1, &m, NULL), SL_ELIMIT);
}

/* ApiVersionsResponse v3: ErrorCode, ApiKeys[], ThrottleTimeMs, then tags 0 SupportedFeatures,
 * 1 FinalizedFeaturesEpoch (default -1), 2 FinalizedFeatures, 3 ZkMigrationReady. */
static void test_tagged_fields(void **state)
{
    (void)state;
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    const sl_message_desc_t *d = &sl_api_versions_response_desc;
    sl_api_versions_response_t m;
    sl_api_versions_response_init(&m);
    assert_int_equal(m.finalized_features_epoch, -1);
    uint8_t out[64];
    sl_writer_t w;
    sl_writer_init(&w, out, sizeof out);
    assert_int_equal(sl_api_versions_response_encode(&w, 3, &m), 0);
    static const uint8_t none[] = {0, 0, 1, 0, 0, 0, 0, 0};
    assert_int_equal(w.pos - out, sizeof none);
    assert_memory_equal(out, none, sizeof none);
    m.zk_migration_ready = true;
    m.finalized_features_epoch = 5;
    static const uint8_t two[] = {0, 0, 1, 0, 0, 0, 0, 2, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5, 3, 1, 1};
    assert_int_equal(sl_api_versions_response_size(3, &m), sizeof two);
    sl_writer_init(&w, out, sizeof out);
    assert_int_equal(sl_api_versions_response_encode(&w, 3, &m), 0);
    assert_memory_equal(out, two, sizeof two); /* ascending tag order */
    assert_int_equal(decode_bytes(d, two, sizeof two, 3, &m, &arena), 0);
    assert_int_equal(m.finalized_features_epoch, 5);
    assert_true(m.zk_migration_ready);
    /* Not flexible (v2): no tagged section at all; the fields keep their defaults. */
    assert_int_equal(sl_api_versions_response_size(2, &m), 10);
    /* Reverse order and an unknown tag 9 (2 bytes): decoded and skipped. */
    static const uint8_t mixed[] = {0,    0,    1, 0, 0, 0, 0, 3, 3, 1, 1, 9, 2,
                                    0xaa, 0xbb, 1, 8, 0, 0, 0, 0, 0, 0, 0, 6};
    assert_int_equal(decode_bytes(d, mixed, sizeof mixed, 3, &m, &arena), 0);
    assert_int_equal(m.finalized_features_epoch, 6);
    assert_true(m.zk_migration_ready);
    /* A known tag whose size does not match its encoding. */
    static const uint8_t bad_size[] = {0, 0, 1, 0, 0, 0, 0, 1, 3, 2, 1, 0};
    assert_int_equal(decode_bytes(d, bad_size, sizeof bad_size, 3, &m, &arena), SL_EMALFORMED);
    /* A tag whose size runs past the end. */
    static const uint8_t overrun[] = {0, 0, 1, 0, 0, 0, 0, 1, 9, 5, 1, 2};
    assert_int_equal(decode_bytes(d, overrun, sizeof overrun, 3, &m, &arena), SL_EMALFORMED);
    /* More tags announced than bytes could hold. */
    static const uint8_t many[] = {0, 0, 1, 0, 0, 0, 0, 0x7f, 9, 0};
    assert_int_equal(decode_bytes(d, many, sizeof many, 3, &m, &arena), SL_EMALFORMED);
    sl_arena_deinit(&arena);
}

static void test_defaults(void **state)
{
    (void)state;
    sl_fetch_request_t f;
    sl_fetch_request_init(&f);
    assert_int_equal(f.replica_id, -1);
    assert_int_equal(f.max_bytes, 0x7fffffff);
    assert_null(f.cluster_id.ptr);
    assert_int_equal(f.topics_count, 0);
    sl_metadata_request_t m;
    sl_metadata_request_init(&m);
    assert_true(m.allow_auto_topic_creation);
    sl_api_versions_request_t a;
    sl_api_versions_request_init(&a);
    assert_non_null(a.client_software_name.ptr); /* "" by default, not null */
    assert_int_equal(a.client_software_name.len, 0);
    /* A nullable struct with a null default: absent, encoded as marker -1. */
    sl_consumer_group_heartbeat_response_t h;
    sl_consumer_group_heartbeat_response_init(&h);
    assert_false(h.assignment_present);
    sl_buf_t json;
    sl_buf_init(&json, 0);
    assert_int_equal(sl_message_to_json(&sl_metadata_request_desc, 4, &m, &json), 0);
    assert_int_equal(sl_buf_append(&json, "", 1), 0);
    assert_string_equal((const char *)json.ptr, "{\"Topics\":[],\"AllowAutoTopicCreation\":true}");
    sl_buf_deinit(&json);
}

/* ---- every message: fill with pseudo-random values, encode, decode, encode again ----------- */
static void check_message_selfconsistent(const sl_message_desc_t *d, int16_t v, uint64_t seed)
{
    sl_arena_t arena;
    sl_arena_init(&arena, TEST_ARENA_BYTES);
    void *m1 = sl_arena_alloc(&arena, d->struct_size);
    void *m2 = sl_arena_alloc(&arena, d->struct_size);
    test_message_fill(d, m1, seed, &arena);
    size_t n1 = sl_message_size(d, v, m1);
    uint8_t *b1 = sl_arena_alloc(&arena, n1 + 1);
    sl_writer_t w;
    sl_writer_init(&w, b1, n1);
    assert_int_equal(sl_message_encode(d, &w, v, m1), 0);
    assert_int_equal(sl_writer_left(&w), 0);
    sl_reader_t r;
    sl_reader_init(&r, b1, n1);
    int rc = sl_message_decode(d, &r, &arena, v, m2);
    if (rc != 0)
        fail_msg("%s v%d seed %llu: decode of own encoding: %s", d->name, v,
                 (unsigned long long)seed, sl_strerror(rc));
    assert_int_equal(sl_reader_left(&r), 0);
    size_t n2 = sl_message_size(d, v, m2);
    if (n2 != n1)
        fail_msg("%s v%d seed %llu: size %zu then %zu", d->name, v, (unsigned long long)seed, n1,
                 n2);
    uint8_t *b2 = sl_arena_alloc(&arena, n2 + 1);
    sl_writer_init(&w, b2, n2);
    assert_int_equal(sl_message_encode(d, &w, v, m2), 0);
    assert_memory_equal(b1, b2, n1);
    sl_arena_deinit(&arena);
}

static void test_every_message_selfconsistent(void **state)
{
    (void)state;
    size_t n = 0;
    const sl_api_info_t *const *apis = sl_api_list(&n);
    for (size_t i = 0; i < n; i++) {
        for (int16_t v = apis[i]->version_min; v <= apis[i]->version_max; v++) {
            for (uint64_t seed = 1; seed <= 6; seed++) {
                check_message_selfconsistent(apis[i]->request, v, seed * 7919 + (uint64_t)v);
                check_message_selfconsistent(apis[i]->response, v, seed * 104729 + (uint64_t)v);
            }
        }
    }
}

int test_codec_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uvarint),
        cmocka_unit_test(test_classic_and_compact),
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_tagged_fields),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_message_selfconsistent),
    };
    return cmocka_run_group_tests_name("protocol_codec", tests, NULL, NULL);
}
