/* test_api: the API table, error names, and request/response header version selection. */
#include "test_support.h"

static void test_api_table(void **state)
{
    (void)state;
    assert_int_equal(SL_API_API_VERSIONS, 18);
    assert_int_equal(SL_API_METADATA, 3);
    assert_int_equal(SL_API_PRODUCE, 0);
    const sl_api_info_t *info = sl_api_info(SL_API_METADATA);
    assert_non_null(info);
    assert_string_equal(info->name, "Metadata");
    assert_int_equal(info->version_min, 0);
    assert_int_equal(info->version_max, 12);
    assert_int_equal(info->flexible_min, 9);
    assert_ptr_equal(info->request, &sl_metadata_request_desc);
    assert_ptr_equal(info->response, &sl_metadata_response_desc);
    assert_int_equal(info->request_struct_size, sizeof(sl_metadata_request_t));
    assert_null(sl_api_info(-1));
    assert_null(sl_api_info(SL_API_KEY_MAX + 1));
    assert_null(sl_api_info(INT16_MAX));
    assert_true(sl_api_version_is_flexible(SL_API_API_VERSIONS, 3));
    assert_false(sl_api_version_is_flexible(SL_API_API_VERSIONS, 2));
    assert_false(sl_api_version_is_flexible(999, 3));
    size_t n = 0;
    const sl_api_info_t *const *list = sl_api_list(&n);
    assert_true(n > 60);
    for (size_t i = 1; i < n; i++)
        assert_true(list[i - 1]->api_key < list[i]->api_key);
}

static void test_kerr(void **state)
{
    (void)state;
    assert_int_equal(SL_KERR_NONE, 0);
    assert_int_equal(SL_KERR_UNKNOWN_SERVER_ERROR, -1);
    assert_int_equal(SL_KERR_UNKNOWN_TOPIC_OR_PARTITION, 3);
    assert_int_equal(SL_KERR_UNSUPPORTED_VERSION, 35);
    assert_string_equal(sl_kerr_name(SL_KERR_UNKNOWN_TOPIC_OR_PARTITION),
                        "UNKNOWN_TOPIC_OR_PARTITION");
    assert_string_equal(sl_kerr_name(12345), "UNRECOGNIZED_ERROR_CODE");
    assert_string_equal(sl_kerr_message(SL_KERR_REQUEST_TIMED_OUT), "The request timed out.");
}

static int decode_header(const uint8_t *data, size_t len, sl_request_header_t *h, size_t *used)
{
    uint8_t *copy = test_exact_copy(data, len);
    sl_reader_t r;
    sl_reader_init(&r, copy, len);
    int rc = sl_request_header_decode(&r, h);
    *used = (size_t)(r.pos - copy);
    /* client_id points into copy: keep only its length for the caller. */
    if (h->client_id.len > 0)
        h->client_id.ptr = data + (h->client_id.ptr - copy);
    test_exact_free(copy);
    return rc;
}

static void test_request_header_versions(void **state)
{
    (void)state;
    sl_request_header_t h;
    size_t used;
    /* v0: ControlledShutdown v0 has no client id. */
    static const uint8_t v0[] = {0, 7, 0, 0, 0, 0, 0, 9, 0xAA};
    assert_int_equal(sl_request_header_version(7, 0), 0);
    assert_int_equal(decode_header(v0, sizeof v0, &h, &used), 0);
    assert_int_equal(used, 8);
    assert_int_equal(h.correlation_id, 9);
    assert_null(h.client_id.ptr);
    /* v1: Metadata v8, classic client id "ab". */
    static const uint8_t v1[] = {0, 3, 0, 8, 0, 0, 1, 0, 0, 2, 'a', 'b'};
    assert_int_equal(sl_request_header_version(3, 8), 1);
    assert_int_equal(decode_header(v1, sizeof v1, &h, &used), 0);
    assert_int_equal(used, sizeof v1);
    assert_int_equal(h.correlation_id, 256);
    assert_int_equal(h.client_id.len, 2);
    /* v2: Metadata v9; client id stays classic (null here), then a tagged section with an unknown
     * tag that is skipped. */
    static const uint8_t v2[] = {0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 1, 5, 2, 'x', 'y', 0x42};
    assert_int_equal(sl_request_header_version(3, 9), 2);
    assert_int_equal(decode_header(v2, sizeof v2, &h, &used), 0);
    assert_int_equal(used, sizeof v2 - 1);
    assert_null(h.client_id.ptr);
    /* Tagged section cut short. */
    assert_int_equal(decode_header(v2, sizeof v2 - 2, &h, &used), SL_EMALFORMED);
    /* Negative client id length other than -1. */
    static const uint8_t neg[] = {0, 3, 0, 8, 0, 0, 0, 1, 0xff, 0xfe};
    assert_int_equal(decode_header(neg, sizeof neg, &h, &used), SL_EMALFORMED);
}

static void test_request_header_unsupported(void **state)
{
    (void)state;
    sl_request_header_t h;
    size_t used;
    /* ApiVersions v7 from a newer client: fields filled, SL_EUNSUPPORTED. */
    static const uint8_t future[] = {0, 18, 0, 7, 0, 0, 0, 5, 0, 1, 'c', 0};
    assert_int_equal(decode_header(future, sizeof future, &h, &used), SL_EUNSUPPORTED);
    assert_int_equal(h.api_key, 18);
    assert_int_equal(h.api_version, 7);
    assert_int_equal(h.correlation_id, 5);
    assert_int_equal(h.client_id.len, 1);
    /* An unknown key, client id missing: still SL_EUNSUPPORTED with the fixed part filled. */
    static const uint8_t unknown[] = {0x03, 0xe7, 0, 0, 0, 0, 0, 6};
    assert_int_equal(decode_header(unknown, sizeof unknown, &h, &used), SL_EUNSUPPORTED);
    assert_int_equal(h.api_key, 999);
    assert_int_equal(h.correlation_id, 6);
    assert_null(h.client_id.ptr);
    assert_int_equal(sl_request_header_version(999, 0), -1);
    assert_int_equal(sl_request_header_version(3, -1), -1);
    /* Shorter than the fixed part. */
    assert_int_equal(decode_header(unknown, 7, &h, &used), SL_EMALFORMED);
}

static void test_response_headers(void **state)
{
    (void)state;
    uint8_t buf[8];
    sl_writer_t w;
    /* ApiVersions answers with header v0 even in flexible versions. */
    assert_int_equal(sl_response_header_size(SL_API_API_VERSIONS, 3), 4);
    assert_int_equal(sl_response_header_size(SL_API_METADATA, 8), 4);
    assert_int_equal(sl_response_header_size(SL_API_METADATA, 9), 5);
    sl_writer_init(&w, buf, sizeof buf);
    assert_int_equal(sl_response_header_encode(&w, SL_API_API_VERSIONS, 4, 0x01020304), 0);
    assert_int_equal(w.pos - buf, 4);
    assert_memory_equal(buf, "\x01\x02\x03\x04", 4);
    sl_writer_init(&w, buf, sizeof buf);
    assert_int_equal(sl_response_header_encode(&w, SL_API_METADATA, 12, 7), 0);
    assert_int_equal(w.pos - buf, 5);
    assert_memory_equal(buf, "\x00\x00\x00\x07\x00", 5);
    sl_writer_init(&w, buf, 4);
    assert_int_equal(sl_response_header_encode(&w, SL_API_METADATA, 12, 7), SL_ELIMIT);
}

int test_api_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_table),
        cmocka_unit_test(test_kerr),
        cmocka_unit_test(test_request_header_versions),
        cmocka_unit_test(test_request_header_unsupported),
        cmocka_unit_test(test_response_headers),
    };
    return cmocka_run_group_tests_name("protocol_api", tests, NULL, NULL);
}
