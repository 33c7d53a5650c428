/* Unit tests for src/replication/raft_wire.c: every Raft message goes core message -> generated
 * struct -> real bytes (the generated encoder) -> struct (the generated decoder) -> core message
 * and must come back equal; several groups share one Kafka message; Fetch records are attached
 * without copies (bytes and a real file range), parsed and checked (CRC, lengths, magic);
 * ClusterId, unknown groups, wrong voters and too-old versions get Kafka's errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replication/raft_wire.h"
#include "sluice/record_batch.h"

#define CLUSTER "MkU3OEVBNTcwNTJENDM2Qg"

static const sl_uuid_t orders_id = {
    .bytes = {0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

/* The groups this node hosts: __cluster_metadata-0 and orders-0..2 (or as many partitions of
 * orders as *data says). */
static int16_t find_group(void *data, sl_slice_t topic_name, const sl_uuid_t *topic_id,
                          int32_t partition, sl_raft_group_key_t *key)
{
    int32_t partitions = data != NULL ? *(const int32_t *)data : 3; /* of orders */
    bool by_id = topic_name.len == 0;
    if (by_id ? memcmp(topic_id, &sl_raft_wire_metadata_topic_id, sizeof *topic_id) == 0
              : sl_slice_eq_str(topic_name, SL_RAFT_WIRE_METADATA_TOPIC)) {
        if (partition != 0)
            return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        *key =
            (sl_raft_group_key_t){SL_RAFT_WIRE_METADATA_TOPIC, sl_raft_wire_metadata_topic_id, 0};
        return SL_KERR_NONE;
    }
    if (by_id ? memcmp(topic_id, &orders_id, sizeof *topic_id) == 0
              : sl_slice_eq_str(topic_name, "orders")) {
        if (partition < 0 || partition >= partitions)
            return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        *key = (sl_raft_group_key_t){"orders", orders_id, partition};
        return SL_KERR_NONE;
    }
    return by_id ? SL_KERR_UNKNOWN_TOPIC_ID : SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

static sl_raft_wire_ctx_t ctx_for(int32_t local_id)
{
    return (sl_raft_wire_ctx_t){.local_id = local_id,
                                .cluster_id = CLUSTER,
                                .find_group = find_group,
                                .fetch_max_bytes = 1 << 20};
}

static const sl_raft_group_key_t metadata_key = {SL_RAFT_WIRE_METADATA_TOPIC, {{0}}, 0};

static sl_raft_group_key_t meta(void)
{
    sl_raft_group_key_t k = metadata_key;
    k.topic_id = sl_raft_wire_metadata_topic_id;
    return k;
}

static sl_raft_group_key_t orders(int32_t partition)
{
    return (sl_raft_group_key_t){"orders", orders_id, partition};
}

/* ---- bytes through the generated codec ------------------------------------------------------ */

typedef struct {
    sl_arena_t arena;
    uint8_t *bytes[64]; /* every encoding a test made: decoded structs borrow them */
    size_t bytes_count;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    sl_arena_init(&f->arena, 64u << 20);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    for (size_t i = 0; i < f->bytes_count; i++)
        free(f->bytes[i]);
    sl_arena_deinit(&f->arena);
    free(f);
    return 0;
}

/* Encodes body with the generated encoder, decodes the bytes into a fresh struct: what the wire
 * carries between two nodes. */
static void *through_bytes(fixture_t *f, const sl_message_desc_t *d, int16_t version,
                           const void *body)
{
    size_t n = sl_message_size(d, version, body);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    assert_true(f->bytes_count < 64);
    f->bytes[f->bytes_count++] = buf;
    sl_writer_t w;
    sl_writer_init(&w, buf, n);
    assert_int_equal(sl_message_encode(d, &w, version, body), 0);
    assert_int_equal(sl_writer_left(&w), 0);
    void *out = sl_arena_alloc(&f->arena, d->struct_size);
    sl_reader_t r;
    sl_reader_init(&r, buf, n);
    assert_int_equal(sl_message_decode(d, &r, &f->arena, version, out), 0);
    assert_int_equal(sl_reader_left(&r), 0);
    return out;
}

static void assert_key_equal(const sl_raft_group_key_t *a, const sl_raft_group_key_t *b)
{
    assert_string_equal(a->topic_name, b->topic_name);
    assert_memory_equal(a->topic_id.bytes, b->topic_id.bytes, 16);
    assert_int_equal(a->partition, b->partition);
}

static void assert_msg_equal(const sl_raft_msg_t *a, const sl_raft_msg_t *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->source_id, b->source_id);
    assert_int_equal(a->destination_id, b->destination_id);
    assert_int_equal(a->correlation_id, b->correlation_id);
    switch (a->type) {
    case SL_RAFT_MSG_VOTE_REQUEST:
        assert_memory_equal(&a->u.vote_request, &b->u.vote_request, sizeof a->u.vote_request);
        break;
    case SL_RAFT_MSG_VOTE_RESPONSE:
        assert_memory_equal(&a->u.vote_response, &b->u.vote_response, sizeof a->u.vote_response);
        break;
    case SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST:
        assert_memory_equal(&a->u.begin_quorum_epoch_request, &b->u.begin_quorum_epoch_request,
                            sizeof a->u.begin_quorum_epoch_request);
        break;
    case SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST: {
        const sl_raft_end_quorum_epoch_request_t *x = &a->u.end_quorum_epoch_request,
                                                 *y = &b->u.end_quorum_epoch_request;
        assert_int_equal(x->leader_id, y->leader_id);
        assert_int_equal(x->leader_epoch, y->leader_epoch);
        assert_int_equal(x->preferred_successors_count, y->preferred_successors_count);
        assert_memory_equal(x->preferred_successors, y->preferred_successors,
                            (size_t)x->preferred_successors_count * sizeof(int32_t));
        break;
    }
    case SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE:
    case SL_RAFT_MSG_END_QUORUM_EPOCH_RESPONSE:
        assert_memory_equal(&a->u.quorum_epoch_response, &b->u.quorum_epoch_response,
                            sizeof a->u.quorum_epoch_response);
        break;
    case SL_RAFT_MSG_FETCH_REQUEST:
        assert_memory_equal(&a->u.fetch_request, &b->u.fetch_request, sizeof a->u.fetch_request);
        break;
    case SL_RAFT_MSG_FETCH_RESPONSE: {
        const sl_raft_fetch_response_t *x = &a->u.fetch_response, *y = &b->u.fetch_response;
        assert_int_equal(x->error_code, y->error_code);
        assert_int_equal(x->leader_id, y->leader_id);
        assert_int_equal(x->leader_epoch, y->leader_epoch);
        assert_int_equal(x->high_watermark, y->high_watermark);
        assert_int_equal(x->diverging_epoch, y->diverging_epoch);
        assert_int_equal(x->diverging_end_offset, y->diverging_end_offset);
        break;
    }
    default:
        fail();
    }
}

/* Request round trip: encode msgs at version, through bytes, decode on node `to`. */
static sl_raft_wire_decoded_t request_round_trip(fixture_t *f, const sl_raft_wire_msg_t *msgs,
                                                 size_t count, int16_t version, int32_t corr)
{
    int16_t key = sl_raft_wire_api_key(msgs[0].msg.type);
    const sl_api_info_t *api = sl_api_info(key);
    sl_raft_wire_ctx_t from = ctx_for(msgs[0].msg.source_id);
    void *req = sl_arena_alloc(&f->arena, api->request_struct_size);
    assert_int_equal(sl_raft_wire_request_encode(&from, msgs, count, version, &f->arena, req), 0);
    void *wire = through_bytes(f, api->request, version, req);
    sl_raft_wire_ctx_t to = ctx_for(msgs[0].msg.destination_id);
    sl_raft_wire_decoded_t out;
    assert_int_equal(sl_raft_wire_request_decode(&to, key, version, corr, wire, &f->arena, &out),
                     0);
    assert_int_equal(out.error_code, 0);
    return out;
}

static sl_raft_wire_msg_t wire_msg(sl_raft_group_key_t key, sl_raft_msg_type_t type, int32_t from,
                                   int32_t to, int32_t corr)
{
    return (sl_raft_wire_msg_t){
        .group = key,
        .msg = {.type = type, .source_id = from, .destination_id = to, .correlation_id = corr}};
}

/* Checks decoded messages against the sent ones, in order, with the request's correlation id. */
static void assert_round_trip(const sl_raft_wire_decoded_t *out, const sl_raft_wire_msg_t *msgs,
                              size_t count, int32_t corr)
{
    assert_int_equal(out->count, count);
    for (size_t i = 0; i < count; i++) {
        sl_raft_msg_t want = msgs[i].msg;
        want.correlation_id = corr;
        assert_false(out->msgs[i].answered);
        assert_key_equal(&out->msgs[i].group, &msgs[i].group);
        assert_msg_equal(&out->msgs[i].msg, &want);
    }
}

/* ---- requests ---------------------------------------------------------------------------- */

static void test_vote_request_round_trip(void **state)
{
    fixture_t *f = *state;
    sl_raft_wire_msg_t msgs[3] = {
        wire_msg(meta(), SL_RAFT_MSG_VOTE_REQUEST, 2, 3, 11),
        wire_msg(orders(1), SL_RAFT_MSG_VOTE_REQUEST, 2, 3, 12),
        wire_msg(orders(0), SL_RAFT_MSG_VOTE_REQUEST, 2, 3, 13),
    };
    msgs[0].msg.u.vote_request = (sl_raft_vote_request_t){7, 6, 1234, true};
    msgs[1].msg.u.vote_request = (sl_raft_vote_request_t){3, 3, 10, false};
    msgs[2].msg.u.vote_request = (sl_raft_vote_request_t){9, 8, 0, true};
    sl_raft_wire_decoded_t out = request_round_trip(f, msgs, 3, 2, 77);
    /* grouped by topic: orders-1 and orders-0 share one topic entry, in order */
    assert_round_trip(&out, msgs, 3, 77);

    /* a pre-vote needs v2; a real vote goes at v1 (and v0) */
    sl_raft_wire_ctx_t ctx = ctx_for(2);
    sl_vote_request_t req;
    assert_int_equal(sl_raft_wire_request_encode(&ctx, msgs, 1, 1, &f->arena, &req),
                     SL_EUNSUPPORTED);
    out = request_round_trip(f, &msgs[1], 1, 1, 78);
    assert_round_trip(&out, &msgs[1], 1, 78);
    out = request_round_trip(f, &msgs[1], 1, 0, 79);
    assert_round_trip(&out, &msgs[1], 1, 79);
}

static void test_vote_request_carries_cluster_and_voter(void **state)
{
    fixture_t *f = *state;
    sl_raft_wire_msg_t m = wire_msg(meta(), SL_RAFT_MSG_VOTE_REQUEST, 1, 3, 5);
    m.msg.u.vote_request = (sl_raft_vote_request_t){2, 1, 5, true};
    sl_raft_wire_ctx_t ctx = ctx_for(1);
    sl_vote_request_t req;
    assert_int_equal(sl_raft_wire_request_encode(&ctx, &m, 1, 2, &f->arena, &req), 0);
    assert_true(sl_slice_eq_str(req.cluster_id, CLUSTER));
    assert_int_equal(req.voter_id, 3);
    assert_int_equal(req.topics_count, 1);
    assert_true(sl_slice_eq_str(req.topics[0].topic_name, "__cluster_metadata"));
    assert_int_equal(req.topics[0].partitions[0].replica_id, 1);
    assert_true(sl_uuid_is_zero(&req.topics[0].partitions[0].replica_directory_id));

    /* delivered to node 2 instead of 3: Kafka 4.0's INVALID_VOTER_KEY, answered by the wire */
    sl_vote_request_t *wire = through_bytes(f, &sl_vote_request_desc, 2, &req);
    sl_raft_wire_ctx_t other = ctx_for(2);
    sl_raft_wire_decoded_t out;
    assert_int_equal(sl_raft_wire_request_decode(&other, SL_API_VOTE, 2, 9, wire, &f->arena, &out),
                     0);
    assert_int_equal(out.count, 1);
    assert_true(out.msgs[0].answered);
    assert_int_equal(out.msgs[0].msg.type, SL_RAFT_MSG_VOTE_RESPONSE);
    assert_int_equal(out.msgs[0].msg.u.vote_response.error_code, SL_KERR_INVALID_VOTER_KEY);
    assert_int_equal(out.msgs[0].msg.destination_id, 1);
}

static void test_quorum_epoch_requests_round_trip(void **state)
{
    fixture_t *f = *state;
    sl_raft_wire_msg_t begin[2] = {
        wire_msg(meta(), SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST, 1, 2, 1),
        wire_msg(orders(2), SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST, 1, 2, 2),
    };
    begin[0].msg.u.begin_quorum_epoch_request = (sl_raft_begin_quorum_epoch_request_t){1, 4};
    begin[1].msg.u.begin_quorum_epoch_request = (sl_raft_begin_quorum_epoch_request_t){1, 9};
    for (int16_t v = 0; v <= 1; v++) {
        sl_raft_wire_decoded_t out = request_round_trip(f, begin, 2, v, 40 + v);
        assert_round_trip(&out, begin, 2, 40 + v);
    }

    sl_raft_wire_msg_t end[2] = {
        wire_msg(meta(), SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST, 1, 3, 1),
        wire_msg(orders(0), SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST, 1, 3, 2),
    };
    end[0].msg.u.end_quorum_epoch_request =
        (sl_raft_end_quorum_epoch_request_t){.leader_id = 1,
                                             .leader_epoch = 4,
                                             .preferred_successors = {3, 2},
                                             .preferred_successors_count = 2};
    end[1].msg.u.end_quorum_epoch_request =
        (sl_raft_end_quorum_epoch_request_t){.leader_id = 1, .leader_epoch = 2};
    for (int16_t v = 0; v <= 1; v++) { /* v0: PreferredSuccessors, v1: PreferredCandidates */
        sl_raft_wire_decoded_t out = request_round_trip(f, end, 2, v, 50 + v);
        assert_round_trip(&out, end, 2, 50 + v);
    }
}

static void test_fetch_request_round_trip(void **state)
{
    fixture_t *f = *state;
    sl_raft_wire_msg_t msgs[2] = {
        wire_msg(meta(), SL_RAFT_MSG_FETCH_REQUEST, 2, 1, 1),
        wire_msg(orders(1), SL_RAFT_MSG_FETCH_REQUEST, 2, 1, 2),
    };
    msgs[0].msg.u.fetch_request = (sl_raft_fetch_request_t){5, 1000, 4, 500};
    msgs[1].msg.u.fetch_request = (sl_raft_fetch_request_t){2, 0, 0, 500};
    for (int16_t v = SL_RAFT_WIRE_FETCH_VERSION_MIN; v <= 17; v++) { /* names, then ids */
        sl_raft_wire_decoded_t out = request_round_trip(f, msgs, 2, v, 60 + v);
        assert_round_trip(&out, msgs, 2, 60 + v);
        assert_int_equal(out.msgs[0].records_max_bytes, 1 << 20);
    }

    /* what Kafka's KRaft follower puts in, for __cluster_metadata */
    sl_raft_wire_ctx_t ctx = ctx_for(2);
    sl_fetch_request_t req;
    msgs[1].msg.u.fetch_request.max_wait_ms = 20;
    assert_int_equal(sl_raft_wire_request_encode(&ctx, msgs, 2, 17, &f->arena, &req), 0);
    assert_int_equal(req.replica_state.replica_id, 2);
    assert_int_equal(req.replica_state.replica_epoch, -1);
    assert_int_equal(req.max_wait_ms, 20); /* the most impatient group */
    assert_true(sl_slice_eq_str(req.cluster_id, CLUSTER));
    char id[23];
    sl_uuid_to_base64(&req.topics[0].topic_id, id);
    assert_string_equal(id, "AAAAAAAAAAAAAAAAAAAAAQ"); /* Kafka's Uuid.METADATA_TOPIC_ID */

    /* too old to carry LastFetchedEpoch and DivergingEpoch */
    assert_int_equal(sl_raft_wire_request_encode(&ctx, msgs, 2, 11, &f->arena, &req),
                     SL_EUNSUPPORTED);
    sl_fetch_request_t *old = through_bytes(f, &sl_fetch_request_desc, 11, &req);
    sl_raft_wire_decoded_t out;
    assert_int_equal(sl_raft_wire_request_decode(&ctx, SL_API_FETCH, 11, 1, old, &f->arena, &out),
                     0);
    assert_int_equal(out.error_code, SL_KERR_UNSUPPORTED_VERSION);
    assert_int_equal(out.count, 0);
}

static void test_wrong_cluster_id_refused(void **state)
{
    fixture_t *f = *state;
    sl_raft_wire_msg_t m = wire_msg(meta(), SL_RAFT_MSG_FETCH_REQUEST, 2, 1, 1);
    m.msg.u.fetch_request = (sl_raft_fetch_request_t){5, 1000, 4, 500};
    sl_raft_wire_ctx_t stranger = ctx_for(2);
    stranger.cluster_id = "AnotherClusterAAAAAAAA";
    sl_fetch_request_t req;
    assert_int_equal(sl_raft_wire_request_encode(&stranger, &m, 1, 17, &f->arena, &req), 0);
    sl_fetch_request_t *wire = through_bytes(f, &sl_fetch_request_desc, 17, &req);
    sl_raft_wire_ctx_t leader = ctx_for(1);
    sl_raft_wire_decoded_t out;
    assert_int_equal(
        sl_raft_wire_request_decode(&leader, SL_API_FETCH, 17, 3, wire, &f->arena, &out), 0);
    assert_int_equal(out.error_code, SL_KERR_INCONSISTENT_CLUSTER_ID);
    assert_int_equal(out.count, 0);

    /* the refusal goes back as KRaft sends it, and the fetcher reads it as such */
    sl_fetch_response_t resp;
    assert_int_equal(sl_raft_wire_error_response(SL_API_FETCH, out.error_code, &resp), 0);
    sl_fetch_response_t *back = through_bytes(f, &sl_fetch_response_desc, 17, &resp);
    assert_int_equal(
        sl_raft_wire_response_decode(&stranger, SL_API_FETCH, 17, 1, 3, back, &f->arena, &out), 0);
    assert_int_equal(out.error_code, SL_KERR_INCONSISTENT_CLUSTER_ID);
    assert_int_equal(out.count, 0);

    /* Vote, Begin/EndQuorumEpoch alike; a request without a cluster id is accepted, as in KRaft */
    sl_raft_wire_msg_t v = wire_msg(meta(), SL_RAFT_MSG_VOTE_REQUEST, 2, 1, 1);
    sl_vote_request_t vreq;
    assert_int_equal(sl_raft_wire_request_encode(&stranger, &v, 1, 2, &f->arena, &vreq), 0);
    assert_int_equal(sl_raft_wire_request_decode(&leader, SL_API_VOTE, 2, 3,
                                                 through_bytes(f, &sl_vote_request_desc, 2, &vreq),
                                                 &f->arena, &out),
                     0);
    assert_int_equal(out.error_code, SL_KERR_INCONSISTENT_CLUSTER_ID);
    vreq.cluster_id = SL_SLICE_NULL;
    assert_int_equal(sl_raft_wire_request_decode(&leader, SL_API_VOTE, 2, 3,
                                                 through_bytes(f, &sl_vote_request_desc, 2, &vreq),
                                                 &f->arena, &out),
                     0);
    assert_int_equal(out.error_code, 0);
    assert_int_equal(out.count, 1);
}

static void test_unknown_groups_answered_by_the_wire(void **state)
{
    fixture_t *f = *state;
    sl_raft_wire_msg_t msgs[3] = {
        wire_msg(orders(7), SL_RAFT_MSG_FETCH_REQUEST, 2, 1, 1), /* no such partition */
        wire_msg(meta(), SL_RAFT_MSG_FETCH_REQUEST, 2, 1, 1),
        wire_msg((sl_raft_group_key_t){"gone", {{9, 9}}, 0}, SL_RAFT_MSG_FETCH_REQUEST, 2, 1, 1),
    };
    for (size_t i = 0; i < 3; i++)
        msgs[i].msg.u.fetch_request = (sl_raft_fetch_request_t){5, 10, 4, 500};
    sl_raft_wire_ctx_t follower = ctx_for(2), leader = ctx_for(1);
    static const int32_t more_orders = 8; /* the follower hosts orders-7, the leader does not */
    follower.find_data = (void *)(uintptr_t)&more_orders;
    for (int16_t v = 12; v <= 17; v += 5) {
        sl_fetch_request_t req;
        assert_int_equal(sl_raft_wire_request_encode(&follower, msgs, 3, v, &f->arena, &req), 0);
        sl_raft_wire_decoded_t out;
        assert_int_equal(sl_raft_wire_request_decode(
                             &leader, SL_API_FETCH, v, 8,
                             through_bytes(f, &sl_fetch_request_desc, v, &req), &f->arena, &out),
                         0);
        assert_int_equal(out.count, 3);
        assert_true(out.msgs[0].answered);
        assert_int_equal(out.msgs[0].msg.u.fetch_response.error_code,
                         SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_false(out.msgs[1].answered);
        assert_true(out.msgs[2].answered); /* v17 names it by an id nobody knows */
        assert_int_equal(out.msgs[2].msg.u.fetch_response.error_code,
                         v >= 13 ? SL_KERR_UNKNOWN_TOPIC_ID : SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);

        /* the answer names them back, beside the core's answer for the known group */
        sl_raft_wire_msg_t answers[3] = {out.msgs[0], out.msgs[1], out.msgs[2]};
        answers[1].msg.type = SL_RAFT_MSG_FETCH_RESPONSE; /* as the core answers it */
        answers[1].msg.source_id = 1;
        answers[1].msg.destination_id = 2;
        answers[1].msg.u.fetch_response = (sl_raft_fetch_response_t){.leader_id = 1,
                                                                     .leader_epoch = 5,
                                                                     .high_watermark = 10,
                                                                     .diverging_epoch = -1,
                                                                     .diverging_end_offset = -1};
        sl_fetch_response_t resp;
        assert_int_equal(
            sl_raft_wire_response_encode(&leader, SL_API_FETCH, answers, NULL, 3, &f->arena, &resp),
            0);
        sl_fetch_response_t *back = through_bytes(f, &sl_fetch_response_desc, v, &resp);
        assert_int_equal(back->responses_count, 3);
        if (v >= 13)
            assert_memory_equal(back->responses[2].topic_id.bytes, msgs[2].group.topic_id.bytes,
                                16);
        else
            assert_true(sl_slice_eq_str(back->responses[2].topic, "gone"));
        assert_int_equal(
            sl_raft_wire_response_decode(&follower, SL_API_FETCH, v, 1, 8, back, &f->arena, &out),
            0);
        assert_int_equal(out.count, 2); /* "gone" is not hosted here either: skipped */
        assert_int_equal(out.msgs[0].group.partition, 7);
        assert_int_equal(out.msgs[0].msg.u.fetch_response.error_code,
                         SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_msg_equal(&out.msgs[1].msg, &answers[1].msg);
    }
}

/* ---- responses ----------------------------------------------------------------------------- */

static sl_raft_wire_decoded_t response_round_trip(fixture_t *f, const sl_raft_wire_msg_t *msgs,
                                                  size_t count, int16_t version)
{
    int16_t key = sl_raft_wire_api_key(msgs[0].msg.type);
    const sl_api_info_t *api = sl_api_info(key);
    sl_raft_wire_ctx_t from = ctx_for(msgs[0].msg.source_id);
    void *resp = sl_arena_alloc(&f->arena, api->response_struct_size);
    assert_int_equal(sl_raft_wire_response_encode(&from, key, msgs, NULL, count, &f->arena, resp),
                     0);
    void *wire = through_bytes(f, api->response, version, resp);
    sl_raft_wire_ctx_t to = ctx_for(msgs[0].msg.destination_id);
    sl_raft_wire_decoded_t out;
    assert_int_equal(sl_raft_wire_response_decode(&to, key, version, msgs[0].msg.source_id,
                                                  msgs[0].msg.correlation_id, wire, &f->arena,
                                                  &out),
                     0);
    assert_int_equal(out.error_code, 0);
    return out;
}

static void test_vote_and_quorum_epoch_responses_round_trip(void **state)
{
    fixture_t *f = *state;
    sl_raft_wire_msg_t votes[2] = {
        wire_msg(meta(), SL_RAFT_MSG_VOTE_RESPONSE, 3, 2, 77),
        wire_msg(orders(1), SL_RAFT_MSG_VOTE_RESPONSE, 3, 2, 77),
    };
    votes[0].msg.u.vote_response = (sl_raft_vote_response_t){0, -1, 6, true};
    votes[1].msg.u.vote_response =
        (sl_raft_vote_response_t){SL_RAFT_ERR_FENCED_LEADER_EPOCH, 1, 4, false};
    for (int16_t v = 0; v <= 2; v++) {
        sl_raft_wire_decoded_t out = response_round_trip(f, votes, 2, v);
        assert_round_trip(&out, votes, 2, 77);
    }
    for (sl_raft_msg_type_t t = SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE;
         t <= SL_RAFT_MSG_END_QUORUM_EPOCH_RESPONSE; t += 2) {
        sl_raft_wire_msg_t msgs[2] = {wire_msg(orders(0), t, 2, 1, 5),
                                      wire_msg(meta(), t, 2, 1, 5)};
        msgs[0].msg.u.quorum_epoch_response = (sl_raft_quorum_epoch_response_t){0, 1, 4};
        msgs[1].msg.u.quorum_epoch_response =
            (sl_raft_quorum_epoch_response_t){SL_RAFT_ERR_FENCED_LEADER_EPOCH, 3, 9};
        for (int16_t v = 0; v <= 1; v++) {
            sl_raft_wire_decoded_t out = response_round_trip(f, msgs, 2, v);
            assert_round_trip(&out, msgs, 2, 5);
        }
    }
}

/* A record batch v2 of `count` records (opaque bytes: raft_wire never reads them), CRC set. */
static size_t make_batch(uint8_t *out, int64_t base_offset, int32_t epoch, int32_t count,
                         bool control, size_t body)
{
    size_t size = SL_RECORD_BATCH_HEADER_BYTES + body;
    memset(out, 0, size);
    sl_writer_t w;
    sl_writer_init(&w, out, size);
    assert_int_equal(sl_write_i64(&w, base_offset), 0);
    assert_int_equal(sl_write_i32(&w, (int32_t)(size - SL_RECORD_BATCH_LOG_OVERHEAD)), 0);
    assert_int_equal(sl_write_i32(&w, epoch), 0);
    assert_int_equal(sl_write_i8(&w, 2), 0);
    assert_int_equal(sl_write_u32(&w, 0), 0); /* CRC, below */
    assert_int_equal(sl_write_i16(&w, control ? SL_RECORD_BATCH_CONTROL : 0), 0);
    assert_int_equal(sl_write_i32(&w, count - 1), 0); /* lastOffsetDelta */
    assert_int_equal(sl_write_i64(&w, 1700000000000), 0);
    assert_int_equal(sl_write_i64(&w, 1700000000000), 0);
    assert_int_equal(sl_write_i64(&w, -1), 0);
    assert_int_equal(sl_write_i16(&w, -1), 0);
    assert_int_equal(sl_write_i32(&w, -1), 0);
    assert_int_equal(sl_write_i32(&w, count), 0);
    for (size_t i = 0; i < body; i++)
        out[SL_RECORD_BATCH_HEADER_BYTES + i] = (uint8_t)(i * 7 + (size_t)base_offset);
    uint32_t crc = sl_record_batch_crc(out, size);
    sl_writer_init(&w, out + SL_RECORD_BATCH_CRC_OFFSET, 4);
    assert_int_equal(sl_write_u32(&w, crc), 0);
    return size;
}

/* Three batches: a LeaderChange control batch at 0, then 3 records at 1, then 2 at 4. */
static size_t make_records(uint8_t *out)
{
    size_t n = make_batch(out, 0, 1, 1, true, 10);
    n += make_batch(out + n, 1, 1, 3, false, 40);
    n += make_batch(out + n, 4, 2, 2, false, 25);
    return n;
}

static void assert_records_batches(const sl_raft_fetch_response_t *r, const uint8_t *records,
                                   size_t want)
{
    static const sl_raft_batch_t expect[3] = {
        {0, 1, 1, true, NULL}, {1, 3, 1, false, NULL}, {4, 2, 2, false, NULL}};
    assert_int_equal(r->batch_count, want);
    size_t pos = 0;
    for (size_t i = 0; i < want; i++) {
        const sl_raft_batch_t *b = &r->batches[i];
        assert_int_equal(b->base_offset, expect[i].base_offset);
        assert_int_equal(b->record_count, expect[i].record_count);
        assert_int_equal(b->leader_epoch, expect[i].leader_epoch);
        assert_int_equal(b->control, expect[i].control);
        sl_record_batch_t h;
        assert_int_equal(sl_record_batch_parse(b->payload, 1 << 20, &h), 0);
        assert_memory_equal(b->payload, records + pos, sl_record_batch_size(&h));
        pos += sl_record_batch_size(&h);
    }
    if (want > 0) {
        assert_int_equal(r->records_offset, 0);
        assert_int_equal(r->records_end_offset,
                         expect[want - 1].base_offset + expect[want - 1].record_count);
    }
}

static void fetch_answers(sl_raft_wire_msg_t msgs[2])
{
    msgs[0] = wire_msg(meta(), SL_RAFT_MSG_FETCH_RESPONSE, 1, 2, 31);
    msgs[0].msg.u.fetch_response = (sl_raft_fetch_response_t){.leader_id = 1,
                                                              .leader_epoch = 2,
                                                              .high_watermark = 4,
                                                              .diverging_epoch = -1,
                                                              .diverging_end_offset = -1,
                                                              .records_offset = 0,
                                                              .records_end_offset = 6};
    msgs[1] = wire_msg(orders(2), SL_RAFT_MSG_FETCH_RESPONSE, 1, 2, 31);
    msgs[1].msg.u.fetch_response = (sl_raft_fetch_response_t){.leader_id = 1,
                                                              .leader_epoch = 7,
                                                              .high_watermark = 100,
                                                              .diverging_epoch = 5,
                                                              .diverging_end_offset = 90};
}

static void test_fetch_response_with_records_round_trip(void **state)
{
    fixture_t *f = *state;
    uint8_t records[512];
    size_t len = make_records(records);
    sl_raft_wire_msg_t msgs[2];
    fetch_answers(msgs);
    sl_raft_wire_records_t attached[2] = {{records, len, -1, 0}, {NULL, 0, -1, 0}};
    sl_raft_wire_ctx_t leader = ctx_for(1), follower = ctx_for(2);
    for (int16_t v = 12; v <= 17; v++) {
        sl_fetch_response_t resp;
        assert_int_equal(sl_raft_wire_response_encode(&leader, SL_API_FETCH, msgs, attached, 2,
                                                      &f->arena, &resp),
                         0);
        sl_fetch_response_t *wire = through_bytes(f, &sl_fetch_response_desc, v, &resp);
        /* the diverging partition carries DivergingEpoch; the other leaves the tag out */
        assert_int_equal(wire->responses[1].partitions[0].diverging_epoch.epoch, 5);
        assert_int_equal(wire->responses[0].partitions[0].diverging_epoch.epoch, -1);
        sl_raft_wire_decoded_t out;
        assert_int_equal(
            sl_raft_wire_response_decode(&follower, SL_API_FETCH, v, 1, 31, wire, &f->arena, &out),
            0);
        assert_int_equal(out.count, 2);
        assert_int_equal(out.msgs[0].status, 0);
        assert_msg_equal(&out.msgs[0].msg, &msgs[0].msg);
        assert_msg_equal(&out.msgs[1].msg, &msgs[1].msg);
        assert_records_batches(&out.msgs[0].msg.u.fetch_response, records, 3);
        assert_int_equal(out.msgs[1].msg.u.fetch_response.batch_count, 0);
    }
}

/* The leader's path: records as a file range, never in a response buffer; pieces written out
 * (here: gathered into one buffer as the socket would receive them) decode to the same batches. */
static void test_fetch_response_file_range_pieces(void **state)
{
    fixture_t *f = *state;
    uint8_t records[512], inline_records[512];
    size_t len = make_records(records);
    size_t len2 = make_records(inline_records);
    char path[] = "/tmp/sl_raft_wire_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(pwrite(fd, "0123456789", 10, 0), 10);
    assert_int_equal(pwrite(fd, records, len, 10), (ssize_t)len);

    sl_raft_wire_msg_t msgs[3];
    fetch_answers(msgs);
    msgs[2] = msgs[0];
    msgs[2].group = orders(0);
    sl_raft_wire_records_t attached[3] = {
        {NULL, len, fd, 10}, {NULL, 0, -1, 0}, {inline_records, len2, -1, 0}};
    sl_raft_wire_ctx_t leader = ctx_for(1), follower = ctx_for(2);
    sl_fetch_response_t resp;
    assert_int_equal(
        sl_raft_wire_response_encode(&leader, SL_API_FETCH, msgs, attached, 3, &f->arena, &resp),
        0);
    size_t records_bytes, gaps;
    sl_raft_wire_fetch_response_records(&resp, &records_bytes, &gaps);
    assert_int_equal(records_bytes, len + len2);
    assert_int_equal(gaps, 2);
    size_t total = 4 + sl_fetch_response_size(17, &resp);
    uint8_t *buf = malloc(total - records_bytes);
    sl_writer_t w;
    sl_writer_init(&w, buf, total - records_bytes);
    assert_int_equal(sl_write_i32(&w, (int32_t)(total - 4)), 0); /* the caller's prefix */
    sl_raft_wire_piece_t pieces[5];
    size_t n;
    assert_int_equal(
        sl_raft_wire_encode_pieces(&resp, 17, attached, 3, &w, buf, &f->arena, pieces, 5, &n), 0);
    assert_int_equal(sl_writer_left(&w), 0);
    assert_int_equal(n, 5);
    assert_int_equal(pieces[1].fd, fd);
    assert_null(pieces[1].ptr);
    assert_int_equal(pieces[1].file_pos, 10);
    assert_ptr_equal(pieces[3].ptr, inline_records); /* bytes: referenced, not copied */

    uint8_t *wire = malloc(total);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (pieces[i].ptr == NULL)
            assert_int_equal(pread(pieces[i].fd, wire + at, pieces[i].len, pieces[i].file_pos),
                             (ssize_t)pieces[i].len);
        else
            memcpy(wire + at, pieces[i].ptr, pieces[i].len);
        at += pieces[i].len;
    }
    assert_int_equal(at, total);
    sl_reader_t r;
    sl_reader_init(&r, wire + 4, total - 4);
    sl_fetch_response_t got;
    assert_int_equal(sl_fetch_response_decode(&r, &f->arena, 17, &got), 0);
    assert_int_equal(sl_reader_left(&r), 0);
    sl_raft_wire_decoded_t out;
    assert_int_equal(
        sl_raft_wire_response_decode(&follower, SL_API_FETCH, 17, 1, 31, &got, &f->arena, &out), 0);
    assert_int_equal(out.count, 3);
    assert_records_batches(&out.msgs[0].msg.u.fetch_response, records, 3);
    assert_records_batches(&out.msgs[2].msg.u.fetch_response, inline_records, 3);
    free(wire);
    free(buf);
    close(fd);
}

/* Parses records through a real Fetch response, as a follower would receive them. */
static sl_raft_wire_msg_t receive_records(fixture_t *f, const uint8_t *records, size_t len)
{
    sl_raft_wire_msg_t msgs[2];
    fetch_answers(msgs);
    sl_raft_wire_records_t attached[1] = {{records, len, -1, 0}};
    sl_raft_wire_ctx_t leader = ctx_for(1), follower = ctx_for(2);
    sl_fetch_response_t resp;
    assert_int_equal(
        sl_raft_wire_response_encode(&leader, SL_API_FETCH, msgs, attached, 1, &f->arena, &resp),
        0);
    sl_fetch_response_t *wire = through_bytes(f, &sl_fetch_response_desc, 17, &resp);
    sl_raft_wire_decoded_t out;
    assert_int_equal(
        sl_raft_wire_response_decode(&follower, SL_API_FETCH, 17, 1, 31, wire, &f->arena, &out), 0);
    assert_int_equal(out.count, 1);
    return out.msgs[0];
}

static void test_malformed_records_are_a_partition_error(void **state)
{
    fixture_t *f = *state;
    uint8_t good[512], bad[512];
    size_t len = make_records(good);
    size_t first = SL_RECORD_BATCH_HEADER_BYTES + 10, second = SL_RECORD_BATCH_HEADER_BYTES + 40;

    /* a flipped bit in the second batch's records: its CRC fails; the first batch survives */
    memcpy(bad, good, len);
    bad[first + SL_RECORD_BATCH_HEADER_BYTES + 3] ^= 0x10;
    sl_raft_wire_msg_t m = receive_records(f, bad, len);
    assert_int_equal(m.status, SL_EMALFORMED);
    assert_records_batches(&m.msg.u.fetch_response, good, 1);

    /* a cut last batch (a byte limit mid-batch, as Kafka may send): dropped silently */
    m = receive_records(f, good, len - 5);
    assert_int_equal(m.status, 0);
    assert_records_batches(&m.msg.u.fetch_response, good, 2);
    m = receive_records(f, good, first + 7); /* not even a header of the second */
    assert_int_equal(m.status, 0);
    assert_records_batches(&m.msg.u.fetch_response, good, 1);

    /* lengths that cannot be a batch, a wrong magic, a lying record count: errors */
    memcpy(bad, good, len);
    bad[first + 8] = bad[first + 9] = bad[first + 10] = 0;
    bad[first + 11] = 3;
    m = receive_records(f, bad, len);
    assert_int_equal(m.status, SL_EMALFORMED);
    assert_int_equal(m.msg.u.fetch_response.batch_count, 1);
    memcpy(bad, good, len);
    bad[SL_RECORD_BATCH_MAGIC_OFFSET] = 1;
    m = receive_records(f, bad, len);
    assert_int_equal(m.status, SL_EMALFORMED);
    assert_int_equal(m.msg.u.fetch_response.batch_count, 0);
    memcpy(bad, good, len);
    bad[first + 23 + 3] = 0x7f; /* lastOffsetDelta, under the CRC: the CRC catches it too */
    m = receive_records(f, bad, len);
    assert_int_equal(m.status, SL_EMALFORMED);
    assert_int_equal(m.msg.u.fetch_response.batch_count, 1);

    /* a control batch claiming two records, with a correct CRC: refused by the checks */
    size_t n = make_batch(bad, 0, 1, 2, true, 10);
    m = receive_records(f, bad, n);
    assert_int_equal(m.status, SL_EMALFORMED);
    assert_int_equal(m.msg.u.fetch_response.batch_count, 0);
    (void)second;
}

/* ---- DescribeQuorum ------------------------------------------------------------------------ */

static void test_describe_quorum(void **state)
{
    fixture_t *f = *state;
    sl_describe_quorum_request_partition_data_t parts[2] = {{0}, {5}};
    sl_describe_quorum_request_topic_data_t topics[2] = {
        {sl_slice_from_str("__cluster_metadata"), &parts[0], 1},
        {sl_slice_from_str("__cluster_metadata"), &parts[1], 1}};
    sl_describe_quorum_request_t req = {topics, 2};
    sl_describe_quorum_request_t *wire =
        through_bytes(f, &sl_describe_quorum_request_desc, 2, &req);
    sl_raft_wire_ctx_t leader = ctx_for(1);
    sl_raft_wire_quorum_t *q;
    size_t count;
    assert_int_equal(sl_raft_wire_describe_quorum_decode(&leader, wire, &f->arena, &q, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(q[0].error_code, 0);
    assert_key_equal(&q[0].group, &(sl_raft_group_key_t){"__cluster_metadata",
                                                         sl_raft_wire_metadata_topic_id, 0});
    assert_int_equal(q[1].error_code, SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    q[0].info = (sl_raft_quorum_info_t){
        .leader_id = 1,
        .leader_epoch = 3,
        .high_watermark = 42,
        .voter_count = 3,
        .voters = {{1, 50, 9000, 9000}, {2, 42, 8000, 7000}, {3, -1, 0, 0}}};
    sl_describe_quorum_response_listener_t listener = {sl_slice_from_str("CONTROLLER"),
                                                       sl_slice_from_str("127.0.0.11"), 9093};
    sl_describe_quorum_response_node_t node = {1, &listener, 1};
    sl_describe_quorum_response_t resp;
    assert_int_equal(sl_raft_wire_describe_quorum_encode(&leader, q, count, 10000, 1700000010000,
                                                         &node, 1, &f->arena, &resp),
                     0);
    for (int16_t v = 0; v <= 2; v++) {
        sl_describe_quorum_response_t *got =
            through_bytes(f, &sl_describe_quorum_response_desc, v, &resp);
        assert_int_equal(got->topics_count, 2);
        assert_int_equal(got->topics[0].partitions_count, 1);
        const sl_describe_quorum_response_partition_data_t *p = &got->topics[0].partitions[0];
        assert_int_equal(p->error_code, 0);
        assert_int_equal(p->leader_id, 1);
        assert_int_equal(p->leader_epoch, 3);
        assert_int_equal(p->high_watermark, 42);
        assert_int_equal(p->current_voters_count, 3);
        assert_int_equal(p->observers_count, 0);
        assert_int_equal(p->current_voters[1].replica_id, 2);
        assert_int_equal(p->current_voters[1].log_end_offset, 42);
        if (v >= 1) {
            assert_int_equal(p->current_voters[0].last_fetch_timestamp, 1700000010000);
            assert_int_equal(p->current_voters[1].last_fetch_timestamp, 1700000008000);
            assert_int_equal(p->current_voters[1].last_caught_up_timestamp, 1700000007000);
            assert_int_equal(p->current_voters[2].last_fetch_timestamp, -1);
        }
        assert_true(sl_slice_eq_str(got->topics[1].topic_name, "__cluster_metadata"));
        assert_int_equal(got->topics[1].partitions[0].partition_index, 5);
        assert_int_equal(got->topics[1].partitions[0].error_code,
                         SL_KERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(got->nodes_count, v >= 2 ? 1 : 0);
        if (v >= 2)
            assert_int_equal(got->nodes[0].listeners[0].port, 9093);
    }

    /* a follower does not know the voters' progress: NOT_LEADER_OR_FOLLOWER, as Kafka answers */
    sl_raft_wire_ctx_t follower = ctx_for(2);
    assert_int_equal(sl_raft_wire_describe_quorum_encode(&follower, q, 1, 10000, 1700000010000,
                                                         NULL, 0, &f->arena, &resp),
                     0);
    assert_int_equal(resp.topics[0].partitions[0].error_code, SL_KERR_NOT_LEADER_OR_FOLLOWER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vote_request_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vote_request_carries_cluster_and_voter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_quorum_epoch_requests_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_request_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_cluster_id_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_groups_answered_by_the_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vote_and_quorum_epoch_responses_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fetch_response_with_records_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fetch_response_file_range_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_records_are_a_partition_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_describe_quorum, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
