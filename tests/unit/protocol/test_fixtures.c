/* test_fixtures: byte-exact round trips of real and independently encoded Kafka frames
 * (fixtures.h: ApiVersions v0-4, Metadata v0-12, requests and responses): decode, check fields,
 * encode, compare; size() equals the encoded length; every truncation is SL_EMALFORMED. */
#include "test_support.h"

#include "fixtures.h"

typedef struct {
    int16_t api_key, version;
    const uint8_t *request, *response;
    size_t request_len, response_len;
} fixture_t;

#define FX(key, name, v)                                                                           \
    {                                                                                              \
        key, v, name##_request_v##v, name##_response_v##v, sizeof name##_request_v##v,             \
            sizeof name##_response_v##v                                                            \
    }

static const fixture_t fixtures[] = {
    FX(18, api_versions, 0), FX(18, api_versions, 1), FX(18, api_versions, 2),
    FX(18, api_versions, 3), FX(18, api_versions, 4), FX(3, metadata, 0),
    FX(3, metadata, 1),      FX(3, metadata, 2),      FX(3, metadata, 3),
    FX(3, metadata, 4),      FX(3, metadata, 5),      FX(3, metadata, 6),
    FX(3, metadata, 7),      FX(3, metadata, 8),      FX(3, metadata, 9),
    FX(3, metadata, 10),     FX(3, metadata, 11),     FX(3, metadata, 12),
};

/* Decodes the body in r with d, re-encodes it and compares with the original bytes. */
static void check_body_roundtrip(const sl_message_desc_t *d, sl_reader_t *r, int16_t version,
                                 void *msg, sl_arena_t *arena)
{
    const uint8_t *body = r->pos;
    size_t body_len = sl_reader_left(r);
    assert_int_equal(sl_message_decode(d, r, arena, version, msg), 0);
    assert_int_equal(sl_reader_left(r), 0);
    size_t size = sl_message_size(d, version, msg);
    assert_int_equal(size, body_len);
    uint8_t *out = sl_malloc(size + 1);
    sl_writer_t w;
    sl_writer_init(&w, out, size);
    assert_int_equal(sl_message_encode(d, &w, version, msg), 0);
    assert_int_equal(sl_writer_left(&w), 0);
    assert_memory_equal(out, body, body_len);
    /* One byte short: the encoder must refuse, not overflow. */
    if (size > 0) {
        sl_writer_init(&w, out, size - 1);
        assert_int_equal(sl_message_encode(d, &w, version, msg), SL_ELIMIT);
    }
    sl_free(out);
}

static void check_request_fields(const fixture_t *fx, const sl_request_header_t *h, void *msg)
{
    assert_int_equal(h->api_key, fx->api_key);
    assert_int_equal(h->api_version, fx->version);
    assert_non_null(h->client_id.ptr);
    if (fx->api_key == SL_API_API_VERSIONS) {
        const sl_api_versions_request_t *m = msg;
        if (fx->version >= 3)
            assert_true(m->client_software_name.len > 0);
        return;
    }
    const sl_metadata_request_t *m = msg;
    if (fx->version == 0) {
        assert_int_equal(m->topics_count, 0);      /* v0: empty = all topics (kafka-python) */
        assert_true(m->allow_auto_topic_creation); /* absent in v0: the JSON default */
    } else if (fx->version != 4) {
        assert_int_equal(m->topics_count, 1);
        assert_true(sl_slice_eq_str(m->topics[0].name, "fixture"));
        assert_false(fx->version >= 4 && m->allow_auto_topic_creation);
        assert_int_equal(m->include_topic_authorized_operations, fx->version >= 8);
    }
}

static void check_response_fields(const fixture_t *fx, void *msg)
{
    if (fx->api_key == SL_API_API_VERSIONS) {
        const sl_api_versions_response_t *m = msg;
        assert_int_equal(m->error_code, SL_KERR_NONE);
        bool found = false;
        for (int32_t i = 0; i < m->api_keys_count; i++)
            if (m->api_keys[i].api_key == SL_API_API_VERSIONS) {
                assert_int_equal(m->api_keys[i].max_version, 4);
                found = true;
            }
        assert_true(found);
        return;
    }
    const sl_metadata_response_t *m = msg;
    assert_int_equal(m->brokers_count, 1);
    assert_true(m->brokers[0].port > 0);
    assert_true(sl_slice_eq_str(m->brokers[0].host, "127.0.0.1"));
    if (fx->version == 4)
        return; /* kcat's request named no topics, so the answer lists none */
    bool found = false;
    for (int32_t i = 0; i < m->topics_count; i++)
        if (sl_slice_eq_str(m->topics[i].name, "fixture")) {
            assert_int_equal(m->topics[i].error_code, 0);
            assert_int_equal(m->topics[i].partitions_count, 2);
            if (fx->version >= 10)
                assert_false(sl_uuid_is_zero(&m->topics[i].topic_id));
            found = true;
        }
    if (!found)
        fail_msg("metadata v%d response: no topic \"fixture\"", fx->version);
}

static void test_roundtrip_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < SL_ARRAY_LEN(fixtures); i++) {
        const fixture_t *fx = &fixtures[i];
        const sl_api_info_t *info = sl_api_info(fx->api_key);
        assert_non_null(info);
        sl_arena_t arena;
        sl_arena_init(&arena, TEST_ARENA_BYTES);
        void *msg = sl_arena_alloc(&arena, info->request_struct_size);
        sl_reader_t r;
        sl_request_header_t h;
        sl_reader_init(&r, fx->request, fx->request_len);
        assert_int_equal(sl_request_header_decode(&r, &h), 0);
        check_body_roundtrip(info->request, &r, fx->version, msg, &arena);
        check_request_fields(fx, &h, msg);
        /* The header re-encodes byte for byte too. */
        size_t hsize = sl_request_header_size(&h);
        uint8_t hbuf[256];
        sl_writer_t w;
        sl_writer_init(&w, hbuf, sizeof hbuf);
        assert_int_equal(sl_request_header_encode(&w, &h), 0);
        assert_int_equal((size_t)(w.pos - hbuf), hsize);
        assert_memory_equal(hbuf, fx->request, hsize);
        sl_arena_deinit(&arena);
    }
}

static void test_roundtrip_responses(void **state)
{
    (void)state;
    for (size_t i = 0; i < SL_ARRAY_LEN(fixtures); i++) {
        const fixture_t *fx = &fixtures[i];
        const sl_api_info_t *info = sl_api_info(fx->api_key);
        sl_arena_t arena;
        sl_arena_init(&arena, TEST_ARENA_BYTES);
        void *msg = sl_arena_alloc(&arena, info->response_struct_size);
        sl_reader_t r;
        int32_t cid = 0;
        sl_reader_init(&r, fx->response, fx->response_len);
        assert_int_equal(sl_response_header_decode(&r, fx->api_key, fx->version, &cid), 0);
        assert_int_equal((size_t)(r.pos - fx->response),
                         sl_response_header_size(fx->api_key, fx->version));
        check_body_roundtrip(info->response, &r, fx->version, msg, &arena);
        check_response_fields(fx, msg);
        sl_buf_t json;
        sl_buf_init(&json, 0);
        assert_int_equal(sl_message_to_json(info->response, fx->version, msg, &json), 0);
        assert_true(json.len > 2 && json.ptr[0] == '{' && json.ptr[json.len - 1] == '}');
        sl_buf_deinit(&json);
        sl_arena_deinit(&arena);
    }
}

/* Every strict prefix of a body is malformed (never a crash, never an over-read: the copy is
 * exactly as long as the prefix). */
static void check_truncations(const sl_message_desc_t *d, int16_t version, const uint8_t *body,
                              size_t len, size_t struct_size)
{
    for (size_t cut = 0; cut < len; cut++) {
        sl_arena_t arena;
        sl_arena_init(&arena, TEST_ARENA_BYTES);
        void *msg = sl_arena_alloc(&arena, struct_size);
        uint8_t *copy = test_exact_copy(body, cut);
        sl_reader_t r;
        sl_reader_init(&r, copy, cut);
        assert_int_equal(sl_message_decode(d, &r, &arena, version, msg), SL_EMALFORMED);
        test_exact_free(copy);
        sl_arena_deinit(&arena);
    }
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < SL_ARRAY_LEN(fixtures); i++) {
        const fixture_t *fx = &fixtures[i];
        const sl_api_info_t *info = sl_api_info(fx->api_key);
        sl_reader_t r;
        sl_request_header_t h;
        /* Truncated request headers. */
        sl_reader_init(&r, fx->request, fx->request_len);
        assert_int_equal(sl_request_header_decode(&r, &h), 0);
        size_t hlen = (size_t)(r.pos - fx->request);
        for (size_t cut = 0; cut < hlen; cut++) {
            uint8_t *copy = test_exact_copy(fx->request, cut);
            sl_reader_init(&r, copy, cut);
            assert_int_equal(sl_request_header_decode(&r, &h), SL_EMALFORMED);
            test_exact_free(copy);
        }
        check_truncations(info->request, fx->version, fx->request + hlen, fx->request_len - hlen,
                          info->request_struct_size);
        size_t rh = sl_response_header_size(fx->api_key, fx->version);
        check_truncations(info->response, fx->version, fx->response + rh, fx->response_len - rh,
                          info->response_struct_size);
    }
}

int test_fixtures_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_requests),
        cmocka_unit_test(test_roundtrip_responses),
        cmocka_unit_test(test_truncated_everywhere),
    };
    return cmocka_run_group_tests_name("protocol_fixtures", tests, NULL, NULL);
}
