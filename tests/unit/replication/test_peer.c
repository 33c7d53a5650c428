/* Unit tests for the peer connections: what sl_peers_send writes is a request the broker's own
 * decoder reads back (header v2 with the client id, the body), answers are cut from a byte stream
 * and matched to their request by correlation id; and, over loopback against a small libuv server
 * in this file, the handshake, answers, deadlines, the bounded queue and the close. Between real
 * brokers they run in tests/integration/test_metadata_quorum.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <uv.h>

#include "replication/peer.h"

static void test_request_reads_back_as_the_broker_decodes_it(void **state)
{
    (void)state;
    sl_begin_quorum_epoch_request_partition_data_t part;
    sl_begin_quorum_epoch_request_partition_data_init(&part);
    part.partition_index = 0;
    part.leader_id = 2;
    part.leader_epoch = 9;
    sl_begin_quorum_epoch_request_topic_data_t topic;
    sl_begin_quorum_epoch_request_topic_data_init(&topic);
    topic.topic_name = sl_slice_from_str("__cluster_metadata");
    topic.partitions = &part;
    topic.partitions_count = 1;
    sl_begin_quorum_epoch_request_t req;
    sl_begin_quorum_epoch_request_init(&req);
    req.topics = &topic;
    req.topics_count = 1;

    sl_buf_t out;
    sl_buf_init(&out, 0);
    assert_int_equal(sl_buf_append(&out, "x", 1), 0); /* appends after what is there */
    assert_int_equal(
        sl__peer_frame_request(&out, SL_API_BEGIN_QUORUM_EPOCH, 0, 4242, "sluice-2", &req), 0);
    const uint8_t *frame = out.ptr + 1;
    size_t len = out.len - 1;
    assert_int_equal(sl__peer_frame_complete(frame, len, 1 << 20), (int64_t)len);

    sl_reader_t r;
    sl_reader_init(&r, frame + 4, len - 4);
    sl_request_header_t hdr;
    assert_int_equal(sl_request_header_decode(&r, &hdr), 0);
    assert_int_equal(hdr.api_key, SL_API_BEGIN_QUORUM_EPOCH);
    assert_int_equal(hdr.api_version, 0);
    assert_int_equal(hdr.correlation_id, 4242);
    assert_true(sl_slice_eq_str(hdr.client_id, "sluice-2"));
    sl_arena_t arena;
    sl_arena_init(&arena, 1 << 20);
    sl_begin_quorum_epoch_request_t back;
    assert_int_equal(sl_begin_quorum_epoch_request_decode(&r, &arena, 0, &back), 0);
    assert_int_equal(sl_reader_left(&r), 0);
    assert_int_equal(back.topics_count, 1);
    assert_true(sl_slice_eq_str(back.topics[0].topic_name, "__cluster_metadata"));
    assert_int_equal(back.topics[0].partitions[0].leader_id, 2);
    assert_int_equal(back.topics[0].partitions[0].leader_epoch, 9);
    sl_arena_deinit(&arena);
    sl_buf_deinit(&out);
}

static void test_unknown_version_is_refused(void **state)
{
    (void)state;
    sl_buf_t out;
    sl_buf_init(&out, 0);
    sl_api_versions_request_t req;
    sl_api_versions_request_init(&req);
    assert_int_equal(sl__peer_frame_request(&out, SL_API_API_VERSIONS, 99, 1, "c", &req),
                     SL_EUNSUPPORTED);
    assert_int_equal(sl__peer_frame_request(&out, 9999, 0, 1, "c", &req), SL_EUNSUPPORTED);
    assert_int_equal(out.len, 0);
    sl_buf_deinit(&out);
}

/* An ApiVersions v3 answer as the broker's dispatch writes it: prefix, header v0, body. */
static size_t encode_answer(uint8_t *buf, size_t cap, int32_t correlation_id)
{
    sl_api_version_t keys[2] = {{SL_API_VOTE, 0, 2}, {SL_API_FETCH, 4, 17}};
    sl_api_versions_response_t resp;
    sl_api_versions_response_init(&resp);
    resp.api_keys = keys;
    resp.api_keys_count = 2;
    const sl_api_info_t *info = sl_api_info(SL_API_API_VERSIONS);
    size_t total = 4 + sl_response_header_size(SL_API_API_VERSIONS, 3) +
                   sl_message_size(info->response, 3, &resp);
    assert_true(total <= cap);
    sl_writer_t w;
    sl_writer_init(&w, buf, cap);
    uint32_t size = (uint32_t)(total - 4);
    uint8_t prefix[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                         (uint8_t)size};
    assert_int_equal(sl_write_bytes(&w, prefix, 4), 0);
    assert_int_equal(sl_response_header_encode(&w, SL_API_API_VERSIONS, 3, correlation_id), 0);
    assert_int_equal(sl_message_encode(info->response, &w, 3, &resp), 0);
    return total;
}

static void test_answers_are_cut_and_matched(void **state)
{
    (void)state;
    uint8_t stream[512];
    size_t one = encode_answer(stream, sizeof(stream), 77);
    size_t two = encode_answer(stream + one, sizeof(stream) - one, 78);
    /* byte by byte: incomplete until the whole first frame is there */
    for (size_t i = 0; i < one; i++)
        assert_int_equal(sl__peer_frame_complete(stream, i, 1 << 20), 0);
    assert_int_equal(sl__peer_frame_complete(stream, one + two, 1 << 20), (int64_t)one);
    assert_int_equal(sl__peer_frame_complete(stream + one, two, 1 << 20), (int64_t)two);

    sl_arena_t arena;
    sl_arena_init(&arena, 1 << 20);
    void *body = NULL;
    assert_int_equal(
        sl__peer_decode_response(stream, one, SL_API_API_VERSIONS, 3, 77, &arena, &body), 0);
    const sl_api_versions_response_t *resp = body;
    assert_int_equal(resp->api_keys_count, 2);
    assert_int_equal(resp->api_keys[0].api_key, SL_API_VOTE);
    assert_int_equal(resp->api_keys[0].max_version, 2);
    assert_int_equal(resp->api_keys[1].min_version, 4);
    /* the second answer where the first was due: a broken stream */
    assert_int_equal(
        sl__peer_decode_response(stream + one, two, SL_API_API_VERSIONS, 3, 77, &arena, &body),
        SL_EMALFORMED);
    /* cut short */
    assert_int_not_equal(
        sl__peer_decode_response(stream, one - 3, SL_API_API_VERSIONS, 3, 77, &arena, &body), 0);
    sl_arena_deinit(&arena);
}

static void test_frame_sizes_no_answer_may_have(void **state)
{
    (void)state;
    const uint8_t tiny[] = {0, 0, 0, 3, 1, 2, 3};
    assert_int_equal(sl__peer_frame_complete(tiny, sizeof(tiny), 1 << 20), SL_EMALFORMED);
    const uint8_t huge[] = {0x10, 0, 0, 0};
    assert_int_equal(sl__peer_frame_complete(huge, sizeof(huge), 1 << 20), SL_ELIMIT);
    const uint8_t negative[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(sl__peer_frame_complete(negative, sizeof(negative), 1 << 20), SL_ELIMIT);
}

/* ---- over loopback -------------------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_tcp_t client;
    bool client_open;
    bool silent; /* answers ApiVersions only */
    uint16_t port;
    sl_buf_t in;
    int requests_seen;
} server_t;

static void server_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    server_t *srv = h->data;
    assert_int_equal(sl_buf_reserve(&srv->in, 65536), 0);
    *buf = uv_buf_init((char *)srv->in.ptr + srv->in.len, (unsigned)(srv->in.cap - srv->in.len));
}

static void written(uv_write_t *req, int status)
{
    (void)status;
    sl_free(req->data);
    sl_free(req);
}

static void server_answer(server_t *srv, int16_t key, int16_t version, int32_t correlation_id,
                          const void *body)
{
    const sl_api_info_t *info = sl_api_info(key);
    size_t total =
        4 + sl_response_header_size(key, version) + sl_message_size(info->response, version, body);
    uint8_t *out = sl_malloc(total);
    sl_writer_t w;
    sl_writer_init(&w, out, total);
    uint32_t size = (uint32_t)(total - 4);
    uint8_t prefix[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                         (uint8_t)size};
    assert_int_equal(sl_write_bytes(&w, prefix, 4), 0);
    assert_int_equal(sl_response_header_encode(&w, key, version, correlation_id), 0);
    assert_int_equal(sl_message_encode(info->response, &w, version, body), 0);
    uv_write_t *req = sl_malloc(sizeof(*req));
    req->data = out;
    uv_buf_t buf = uv_buf_init((char *)out, (unsigned)total);
    assert_int_equal(uv_write(req, (uv_stream_t *)&srv->client, &buf, 1, written), 0);
}

static void server_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    server_t *srv = stream->data;
    if (nread < 0)
        return;
    srv->in.len += (size_t)nread;
    for (;;) {
        int64_t n = sl__peer_frame_complete(srv->in.ptr, srv->in.len, 1 << 20);
        assert_true(n >= 0);
        if (n == 0)
            break;
        sl_reader_t r;
        sl_reader_init(&r, srv->in.ptr + 4, (size_t)n - 4);
        sl_request_header_t hdr;
        assert_int_equal(sl_request_header_decode(&r, &hdr), 0);
        assert_true(sl_slice_eq_str(hdr.client_id, "sluice-5"));
        srv->requests_seen++;
        if (hdr.api_key == SL_API_API_VERSIONS) {
            sl_api_version_t keys[2] = {{SL_API_BEGIN_QUORUM_EPOCH, 0, 1},
                                        {SL_API_API_VERSIONS, 0, 3}};
            sl_api_versions_response_t resp;
            sl_api_versions_response_init(&resp);
            resp.api_keys = keys;
            resp.api_keys_count = 2;
            server_answer(srv, hdr.api_key, hdr.api_version, hdr.correlation_id, &resp);
        } else if (!srv->silent) {
            sl_begin_quorum_epoch_response_t resp;
            sl_begin_quorum_epoch_response_init(&resp);
            resp.error_code = 94;
            server_answer(srv, hdr.api_key, hdr.api_version, hdr.correlation_id, &resp);
        }
        sl_buf_consume(&srv->in, (size_t)n);
    }
}

static void server_accept(uv_stream_t *listener, int status)
{
    server_t *srv = listener->data;
    assert_int_equal(status, 0);
    assert_false(srv->client_open);
    uv_tcp_init(&srv->loop, &srv->client);
    srv->client.data = srv;
    srv->client_open = true;
    assert_int_equal(uv_accept(listener, (uv_stream_t *)&srv->client), 0);
    uv_read_start((uv_stream_t *)&srv->client, server_alloc, server_read);
}

static void server_start(server_t *srv)
{
    memset(srv, 0, sizeof(*srv));
    sl_buf_init(&srv->in, 0);
    assert_int_equal(uv_loop_init(&srv->loop), 0);
    uv_tcp_init(&srv->loop, &srv->listener);
    srv->listener.data = srv;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv->listener, 8, server_accept), 0);
    struct sockaddr_in bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    srv->port = ntohs(bound.sin_port);
}

static void server_stop(server_t *srv)
{
    uv_close((uv_handle_t *)&srv->listener, NULL);
    if (srv->client_open)
        uv_close((uv_handle_t *)&srv->client, NULL);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&srv->loop), 0);
    sl_buf_deinit(&srv->in);
}

typedef struct {
    int calls;
    int status;
    int16_t error_code;
} answer_t;

static void answered(void *data, int status, const void *body)
{
    answer_t *a = data;
    a->calls++;
    a->status = status;
    if (status == 0)
        a->error_code = ((const sl_begin_quorum_epoch_response_t *)body)->error_code;
}

static void closed(void *data)
{
    (*(int *)data)++;
}

static sl_peers_t *peers_open(server_t *srv, uint16_t port)
{
    sl_peers_config_t cfg = {
        .node_id = 5, .reconnect_backoff_ms = 10, .reconnect_backoff_max_ms = 40};
    sl_peers_t *peers;
    assert_int_equal(sl_peers_create(&srv->loop, &cfg, &peers), 0);
    assert_int_equal(sl_peers_set_address(peers, 2, "127.0.0.1", port), 0);
    return peers;
}

static void run_until(server_t *srv, const int *counter, int at_least)
{
    for (int i = 0; i < 100000 && *counter < at_least; i++)
        uv_run(&srv->loop, UV_RUN_ONCE);
    assert_true(*counter >= at_least);
}

static void test_answer_after_handshake(void **state)
{
    (void)state;
    server_t srv;
    server_start(&srv);
    sl_peers_t *peers = peers_open(&srv, srv.port);
    sl_begin_quorum_epoch_request_t req;
    sl_begin_quorum_epoch_request_init(&req);
    answer_t a = {0}, b = {0};
    assert_int_equal(
        sl_peers_send(peers, 9, SL_API_BEGIN_QUORUM_EPOCH, 0, &req, 5000, answered, &a),
        SL_ENOTFOUND);
    assert_int_equal(
        sl_peers_send(peers, 2, SL_API_BEGIN_QUORUM_EPOCH, 0, &req, 5000, answered, &a), 0);
    assert_int_equal(
        sl_peers_send(peers, 2, SL_API_BEGIN_QUORUM_EPOCH, 0, &req, 5000, answered, &b), 0);
    assert_int_equal(a.calls, 0); /* never inside send */
    run_until(&srv, &b.calls, 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.error_code, 94);
    assert_int_equal(b.status, 0);
    assert_true(sl_peers_connected(peers, 2));
    assert_int_equal(srv.requests_seen, 3); /* the handshake first */
    /* the peer serves BeginQuorumEpoch 0-1 only, Vote not at all */
    assert_int_equal(sl_peers_send(peers, 2, SL_API_VOTE, 0, &req, 5000, answered, &a),
                     SL_EUNSUPPORTED);
    int done = 0;
    sl_peers_close(peers, closed, &done);
    run_until(&srv, &done, 1);
    server_stop(&srv);
}

static void test_silence_times_out_and_close_fails_the_rest(void **state)
{
    (void)state;
    server_t srv;
    server_start(&srv);
    srv.silent = true;
    sl_peers_t *peers = peers_open(&srv, srv.port);
    sl_begin_quorum_epoch_request_t req;
    sl_begin_quorum_epoch_request_init(&req);
    answer_t a = {0}, b = {0};
    assert_int_equal(sl_peers_send(peers, 2, SL_API_BEGIN_QUORUM_EPOCH, 0, &req, 50, answered, &a),
                     0);
    run_until(&srv, &a.calls, 1);
    assert_int_equal(a.status, -ETIMEDOUT);
    /* fill the queue: the one past the bound is refused */
    answer_t many = {0};
    for (int i = 0; i < SL_PEER_REQUESTS_MAX; i++)
        assert_int_equal(
            sl_peers_send(peers, 2, SL_API_BEGIN_QUORUM_EPOCH, 0, &req, 60000, answered, &many), 0);
    assert_int_equal(
        sl_peers_send(peers, 2, SL_API_BEGIN_QUORUM_EPOCH, 0, &req, 60000, answered, &b),
        SL_ELIMIT);
    int done = 0;
    sl_peers_close(peers, closed, &done);
    assert_int_equal(many.calls, SL_PEER_REQUESTS_MAX);
    assert_int_equal(many.status, SL_ECLOSED);
    assert_int_equal(b.calls, 0);
    run_until(&srv, &done, 1);
    server_stop(&srv);
}

static void test_nobody_listening_times_out(void **state)
{
    (void)state;
    server_t srv;
    server_start(&srv);
    uint16_t port = srv.port;
    uv_close((uv_handle_t *)&srv.listener, NULL); /* the port refuses from now on */
    uv_run(&srv.loop, UV_RUN_NOWAIT);
    sl_peers_t *peers = peers_open(&srv, port);
    sl_begin_quorum_epoch_request_t req;
    sl_begin_quorum_epoch_request_init(&req);
    answer_t a = {0};
    assert_int_equal(sl_peers_send(peers, 2, SL_API_BEGIN_QUORUM_EPOCH, 0, &req, 200, answered, &a),
                     0);
    run_until(&srv, &a.calls, 1);
    assert_int_equal(a.status, -ETIMEDOUT); /* connection attempts kept failing meanwhile */
    assert_false(sl_peers_connected(peers, 2));
    int done = 0;
    sl_peers_close(peers, closed, &done);
    run_until(&srv, &done, 1);
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&srv.loop), 0);
    sl_buf_deinit(&srv.in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_reads_back_as_the_broker_decodes_it),
        cmocka_unit_test(test_unknown_version_is_refused),
        cmocka_unit_test(test_answers_are_cut_and_matched),
        cmocka_unit_test(test_frame_sizes_no_answer_may_have),
        cmocka_unit_test(test_answer_after_handshake),
        cmocka_unit_test(test_silence_times_out_and_close_fails_the_rest),
        cmocka_unit_test(test_nobody_listening_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
