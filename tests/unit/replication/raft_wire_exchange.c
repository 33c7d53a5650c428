/* raft_wire_exchange: the C half of tests/integration/test_raft_wire_kafka.py, which checks
 * raft_wire against Apache Kafka 4.0's own message classes (java/src/RaftWireProbe.java).
 *   raft_wire_exchange emit DIR   writes the bodies Sluice sends (one file per message, named
 *                                 <message>_v<version>.bin) for Kafka's classes to read;
 *   raft_wire_exchange check DIR  reads the bodies Kafka's classes wrote (as KafkaRaftClient
 *                                 builds them) through the generated decoder and raft_wire, and
 *                                 compares every field the core uses; prints "ok <file>" each.
 * Exit status 0 only when everything matched. Values here and in the probe must agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/raft_wire.h"
#include "sluice/record_batch.h"

#define CLUSTER "MkU3OEVBNTcwNTJENDM2Qg"

static const sl_uuid_t orders_id = {
    .bytes = {0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};
static sl_arena_t arena;
static int failures;

static int16_t find_group(void *data, sl_slice_t topic_name, const sl_uuid_t *topic_id,
                          int32_t partition, sl_raft_group_key_t *key)
{
    (void)data;
    bool by_id = topic_name.len == 0;
    bool meta = by_id ? memcmp(topic_id, &sl_raft_wire_metadata_topic_id, 16) == 0
                      : sl_slice_eq_str(topic_name, SL_RAFT_WIRE_METADATA_TOPIC);
    bool orders =
        by_id ? memcmp(topic_id, &orders_id, 16) == 0 : sl_slice_eq_str(topic_name, "orders");
    if (meta && partition == 0)
        *key =
            (sl_raft_group_key_t){SL_RAFT_WIRE_METADATA_TOPIC, sl_raft_wire_metadata_topic_id, 0};
    else if (orders && partition >= 0 && partition < 3)
        *key = (sl_raft_group_key_t){"orders", orders_id, partition};
    else
        return by_id ? SL_KERR_UNKNOWN_TOPIC_ID : SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    return SL_KERR_NONE;
}

static sl_raft_wire_ctx_t ctx_for(int32_t id)
{
    return (sl_raft_wire_ctx_t){.local_id = id, .cluster_id = CLUSTER, .find_group = find_group};
}

/* ---- emit ------------------------------------------------------------------------------------ */

static void write_file(const char *dir, const char *name, const void *bytes, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static void emit(const char *dir, const char *name, int16_t version, const sl_message_desc_t *d,
                 const void *m)
{
    size_t n = sl_message_size(d, version, m);
    uint8_t *buf = malloc(n + 1);
    sl_writer_t w;
    sl_writer_init(&w, buf, n);
    if (buf == NULL || sl_message_encode(d, &w, version, m) != 0 || sl_writer_left(&w) != 0) {
        fprintf(stderr, "cannot encode %s\n", name);
        exit(2);
    }
    char file[128];
    snprintf(file, sizeof file, "%s_v%d.bin", name, version);
    write_file(dir, file, buf, n);
    free(buf);
}

/* A real record batch v2 (uncompressed, count records with values "v<i>"), CRC set. */
static size_t make_batch(uint8_t *out, int64_t base_offset, int32_t epoch, int32_t count,
                         bool control)
{
    uint8_t body[512];
    sl_writer_t w;
    sl_writer_init(&w, body, sizeof body);
    for (int32_t i = 0; i < count; i++) {
        uint8_t rec[64];
        sl_writer_t r;
        sl_writer_init(&r, rec, sizeof rec);
        char value[16];
        int vlen = snprintf(value, sizeof value, "v%d", (int)(base_offset + i));
        (void)sl_write_i8(&r, 0);      /* attributes */
        (void)sl_write_varlong(&r, 0); /* timestamp delta */
        (void)sl_write_varint(&r, i);  /* offset delta */
        if (control) {                 /* key: ControlRecordType v0, LEADER_CHANGE (2) */
            (void)sl_write_varint(&r, 4);
            (void)sl_write_i16(&r, 0);
            (void)sl_write_i16(&r, 2);
        } else {
            (void)sl_write_varint(&r, -1);
        }
        (void)sl_write_varint(&r, vlen);
        (void)sl_write_bytes(&r, value, (size_t)vlen);
        (void)sl_write_varint(&r, 0); /* headers */
        size_t rlen = sizeof rec - sl_writer_left(&r);
        (void)sl_write_varint(&w, (int32_t)rlen);
        (void)sl_write_bytes(&w, rec, rlen);
    }
    size_t body_len = sizeof body - sl_writer_left(&w);
    size_t size = SL_RECORD_BATCH_HEADER_BYTES + body_len;
    sl_writer_init(&w, out, size);
    (void)sl_write_i64(&w, base_offset);
    (void)sl_write_i32(&w, (int32_t)(size - SL_RECORD_BATCH_LOG_OVERHEAD));
    (void)sl_write_i32(&w, epoch);
    (void)sl_write_i8(&w, 2);
    (void)sl_write_u32(&w, 0);
    (void)sl_write_i16(&w, control ? SL_RECORD_BATCH_CONTROL : 0);
    (void)sl_write_i32(&w, count - 1);
    (void)sl_write_i64(&w, 1700000000000);
    (void)sl_write_i64(&w, 1700000000000);
    (void)sl_write_i64(&w, -1);
    (void)sl_write_i16(&w, -1);
    (void)sl_write_i32(&w, -1);
    (void)sl_write_i32(&w, count);
    (void)sl_write_bytes(&w, body, body_len);
    uint32_t crc = sl_record_batch_crc(out, size);
    sl_writer_init(&w, out + SL_RECORD_BATCH_CRC_OFFSET, 4);
    (void)sl_write_u32(&w, crc);
    return size;
}

static sl_raft_wire_msg_t msg_to(sl_raft_group_key_t key, sl_raft_msg_type_t type, int32_t from,
                                 int32_t to)
{
    return (sl_raft_wire_msg_t){.group = key,
                                .msg = {.type = type, .source_id = from, .destination_id = to}};
}

static void emit_requests(const char *dir, sl_raft_group_key_t meta)
{
    sl_raft_wire_ctx_t ctx = ctx_for(2);
    sl_raft_wire_msg_t m = msg_to(meta, SL_RAFT_MSG_VOTE_REQUEST, 2, 3);
    m.msg.u.vote_request = (sl_raft_vote_request_t){5, 4, 100, true};
    sl_vote_request_t vote;
    if (sl_raft_wire_request_encode(&ctx, &m, 1, 2, &arena, &vote) == 0)
        emit(dir, "vote_request", 2, &sl_vote_request_desc, &vote);
    m = msg_to(meta, SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST, 2, 3);
    m.msg.u.begin_quorum_epoch_request = (sl_raft_begin_quorum_epoch_request_t){2, 6};
    sl_begin_quorum_epoch_request_t begin;
    if (sl_raft_wire_request_encode(&ctx, &m, 1, 0, &arena, &begin) == 0)
        emit(dir, "begin_quorum_epoch_request", 0, &sl_begin_quorum_epoch_request_desc, &begin);
    m = msg_to(meta, SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST, 2, 3);
    m.msg.u.end_quorum_epoch_request = (sl_raft_end_quorum_epoch_request_t){2, 6, {3, 1}, 2};
    sl_end_quorum_epoch_request_t end;
    if (sl_raft_wire_request_encode(&ctx, &m, 1, 0, &arena, &end) == 0) {
        emit(dir, "end_quorum_epoch_request", 0, &sl_end_quorum_epoch_request_desc, &end);
        emit(dir, "end_quorum_epoch_request", 1, &sl_end_quorum_epoch_request_desc, &end);
    }
    sl_raft_wire_msg_t f[2] = {
        msg_to(meta, SL_RAFT_MSG_FETCH_REQUEST, 2, 1),
        msg_to((sl_raft_group_key_t){"orders", orders_id, 1}, SL_RAFT_MSG_FETCH_REQUEST, 2, 1)};
    f[0].msg.u.fetch_request = (sl_raft_fetch_request_t){5, 100, 4, 500};
    f[1].msg.u.fetch_request = (sl_raft_fetch_request_t){7, 20, 7, 500};
    sl_fetch_request_t fetch;
    if (sl_raft_wire_request_encode(&ctx, f, 2, 17, &arena, &fetch) == 0)
        emit(dir, "fetch_request", 17, &sl_fetch_request_desc, &fetch);
}

static void emit_responses(const char *dir, sl_raft_group_key_t meta)
{
    sl_raft_wire_ctx_t ctx = ctx_for(1);
    sl_raft_wire_msg_t m = msg_to(meta, SL_RAFT_MSG_VOTE_RESPONSE, 3, 2);
    m.msg.u.vote_response = (sl_raft_vote_response_t){0, -1, 5, true};
    sl_vote_response_t vote;
    if (sl_raft_wire_response_encode(&ctx, SL_API_VOTE, &m, NULL, 1, &arena, &vote) == 0)
        emit(dir, "vote_response", 2, &sl_vote_response_desc, &vote);
    m = msg_to(meta, SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE, 3, 2);
    m.msg.u.quorum_epoch_response = (sl_raft_quorum_epoch_response_t){74, 2, 6};
    sl_begin_quorum_epoch_response_t begin;
    if (sl_raft_wire_response_encode(&ctx, SL_API_BEGIN_QUORUM_EPOCH, &m, NULL, 1, &arena,
                                     &begin) == 0)
        emit(dir, "begin_quorum_epoch_response", 1, &sl_begin_quorum_epoch_response_desc, &begin);

    static uint8_t records[4096];
    size_t len = make_batch(records, 0, 1, 1, true);
    len += make_batch(records + len, 1, 1, 3, false);
    len += make_batch(records + len, 4, 2, 2, false);
    sl_raft_wire_msg_t f[2] = {
        msg_to(meta, SL_RAFT_MSG_FETCH_RESPONSE, 1, 2),
        msg_to((sl_raft_group_key_t){"orders", orders_id, 1}, SL_RAFT_MSG_FETCH_RESPONSE, 1, 2)};
    f[0].msg.u.fetch_response = (sl_raft_fetch_response_t){.leader_id = 1,
                                                           .leader_epoch = 2,
                                                           .high_watermark = 4,
                                                           .diverging_epoch = -1,
                                                           .diverging_end_offset = -1};
    f[1].msg.u.fetch_response = (sl_raft_fetch_response_t){.leader_id = 1,
                                                           .leader_epoch = 7,
                                                           .high_watermark = 15,
                                                           .diverging_epoch = 5,
                                                           .diverging_end_offset = 12};
    sl_raft_wire_records_t attached[2] = {{records, len, -1, 0}, {NULL, 0, -1, 0}};
    sl_fetch_response_t fetch;
    if (sl_raft_wire_response_encode(&ctx, SL_API_FETCH, f, attached, 2, &arena, &fetch) == 0)
        emit(dir, "fetch_response", 17, &sl_fetch_response_desc, &fetch);

    sl_raft_wire_quorum_t q = {
        .group = meta,
        .info = {.leader_id = 1,
                 .leader_epoch = 2,
                 .high_watermark = 6,
                 .voter_count = 3,
                 .voters = {{1, 6, 9000, 9000}, {2, 6, 8500, 8500}, {3, -1, 0, 0}}}};
    sl_describe_quorum_response_listener_t listener = {sl_slice_from_str("CONTROLLER"),
                                                       sl_slice_from_str("127.0.0.11"), 9093};
    sl_describe_quorum_response_node_t node = {1, &listener, 1};
    sl_describe_quorum_response_t dq;
    if (sl_raft_wire_describe_quorum_encode(&ctx, &q, 1, 10000, 1700000010000, &node, 1, &arena,
                                            &dq) == 0)
        emit(dir, "describe_quorum_response", 2, &sl_describe_quorum_response_desc, &dq);
}

/* ---- check ------------------------------------------------------------------------------------
 */

static void *read_body(const char *dir, const char *file, const sl_message_desc_t *d,
                       int16_t version)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    static uint8_t bufs[16][65536];
    static size_t used;
    if (f == NULL || used == 16) {
        fprintf(stderr, "cannot read %s\n", path);
        failures++;
        return NULL;
    }
    uint8_t *buf = bufs[used++];
    size_t n = fread(buf, 1, sizeof bufs[0], f);
    fclose(f);
    void *m = sl_arena_alloc(&arena, d->struct_size);
    sl_reader_t r;
    sl_reader_init(&r, buf, n);
    if (m == NULL || sl_message_decode(d, &r, &arena, version, m) != 0 || sl_reader_left(&r) != 0) {
        fprintf(stderr, "%s: the generated decoder refuses it\n", file);
        failures++;
        return NULL;
    }
    return m;
}

#define EXPECT(file, cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: expected %s\n", file, #cond);                                     \
            failures++;                                                                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void check_request(const char *dir, const char *file, int16_t api_key, int16_t version,
                          const sl_raft_msg_t *want, size_t count)
{
    const sl_api_info_t *api = sl_api_info(api_key);
    void *body = read_body(dir, file, api->request, version);
    if (body == NULL)
        return;
    sl_raft_wire_ctx_t ctx = ctx_for(want[0].destination_id);
    sl_raft_wire_decoded_t out;
    EXPECT(file, sl_raft_wire_request_decode(&ctx, api_key, version, 9, body, &arena, &out) == 0);
    EXPECT(file, out.error_code == 0 && out.count == count);
    for (size_t i = 0; i < count; i++) {
        const sl_raft_msg_t *m = &out.msgs[i].msg;
        EXPECT(file, !out.msgs[i].answered && m->type == want[i].type);
        EXPECT(file, m->source_id == want[i].source_id);
        EXPECT(file, memcmp(&m->u, &want[i].u, sizeof m->u) == 0);
    }
    printf("ok %s\n", file);
}

static void check_response(const char *dir, const char *file, int16_t api_key, int16_t version,
                           const sl_raft_msg_t *want, size_t count, size_t batches)
{
    const sl_api_info_t *api = sl_api_info(api_key);
    void *body = read_body(dir, file, api->response, version);
    if (body == NULL)
        return;
    sl_raft_wire_ctx_t ctx = ctx_for(want[0].destination_id);
    sl_raft_wire_decoded_t out;
    EXPECT(file, sl_raft_wire_response_decode(&ctx, api_key, version, want[0].source_id, 9, body,
                                              &arena, &out) == 0);
    EXPECT(file, out.error_code == 0 && out.count == count);
    for (size_t i = 0; i < count; i++) {
        const sl_raft_msg_t *m = &out.msgs[i].msg;
        EXPECT(file, m->type == want[i].type && out.msgs[i].status == 0);
        if (m->type == SL_RAFT_MSG_FETCH_RESPONSE) {
            const sl_raft_fetch_response_t *a = &m->u.fetch_response,
                                           *b = &want[i].u.fetch_response;
            EXPECT(file, a->error_code == b->error_code && a->leader_id == b->leader_id &&
                             a->leader_epoch == b->leader_epoch &&
                             a->high_watermark == b->high_watermark &&
                             a->diverging_epoch == b->diverging_epoch &&
                             a->diverging_end_offset == b->diverging_end_offset);
            if (i == 0 && batches > 0) {
                EXPECT(file, a->batch_count == batches);
                EXPECT(file, a->batches[0].control && a->batches[0].base_offset == 10 &&
                                 a->batches[0].leader_epoch == 3);
                EXPECT(file, !a->batches[1].control && a->batches[1].base_offset == 11 &&
                                 a->batches[1].record_count == 3);
            }
        } else {
            EXPECT(file, memcmp(&m->u, &want[i].u, sizeof m->u) == 0);
        }
    }
    printf("ok %s\n", file);
}

/* What RaftWireProbe builds, as Kafka's KafkaRaftClient 4.0 would (node 2 asking node 1). */
static void check_all(const char *dir)
{
    sl_raft_msg_t v = {.type = SL_RAFT_MSG_VOTE_REQUEST,
                       .source_id = 2,
                       .destination_id = 1,
                       .u.vote_request = {5, 4, 100, true}};
    check_request(dir, "vote_request_v2.bin", SL_API_VOTE, 2, &v, 1);
    sl_raft_msg_t b = {.type = SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_REQUEST,
                       .source_id = 2,
                       .destination_id = 1,
                       .u.begin_quorum_epoch_request = {2, 6}};
    check_request(dir, "begin_quorum_epoch_request_v1.bin", SL_API_BEGIN_QUORUM_EPOCH, 1, &b, 1);
    sl_raft_msg_t e = {.type = SL_RAFT_MSG_END_QUORUM_EPOCH_REQUEST,
                       .source_id = 2,
                       .destination_id = 1,
                       .u.end_quorum_epoch_request = {2, 6, {3, 1}, 2}};
    check_request(dir, "end_quorum_epoch_request_v1.bin", SL_API_END_QUORUM_EPOCH, 1, &e, 1);
    sl_raft_msg_t f = {.type = SL_RAFT_MSG_FETCH_REQUEST,
                       .source_id = 2,
                       .destination_id = 1,
                       .u.fetch_request = {5, 100, 4, 500}};
    check_request(dir, "fetch_request_v17.bin", SL_API_FETCH, 17, &f, 1);

    sl_raft_msg_t vr = {.type = SL_RAFT_MSG_VOTE_RESPONSE,
                        .source_id = 1,
                        .destination_id = 2,
                        .u.vote_response = {0, -1, 5, true}};
    check_response(dir, "vote_response_v2.bin", SL_API_VOTE, 2, &vr, 1, 0);
    sl_raft_msg_t br = {.type = SL_RAFT_MSG_BEGIN_QUORUM_EPOCH_RESPONSE,
                        .source_id = 1,
                        .destination_id = 2,
                        .u.quorum_epoch_response = {0, 1, 6}};
    check_response(dir, "begin_quorum_epoch_response_v1.bin", SL_API_BEGIN_QUORUM_EPOCH, 1, &br, 1,
                   0);
    sl_raft_msg_t fr = {.type = SL_RAFT_MSG_FETCH_RESPONSE,
                        .source_id = 1,
                        .destination_id = 2,
                        .u.fetch_response = {.leader_id = 1,
                                             .leader_epoch = 3,
                                             .high_watermark = 12,
                                             .diverging_epoch = -1,
                                             .diverging_end_offset = -1}};
    check_response(dir, "fetch_response_v17.bin", SL_API_FETCH, 17, &fr, 1, 2);
    sl_raft_msg_t fd = fr;
    fd.u.fetch_response.high_watermark = 8;
    fd.u.fetch_response.diverging_epoch = 2;
    fd.u.fetch_response.diverging_end_offset = 8;
    check_response(dir, "fetch_response_diverging_v17.bin", SL_API_FETCH, 17, &fd, 1, 0);

    sl_describe_quorum_request_t *dq =
        read_body(dir, "describe_quorum_request_v2.bin", &sl_describe_quorum_request_desc, 2);
    sl_raft_wire_ctx_t ctx = ctx_for(1);
    sl_raft_wire_quorum_t *q;
    size_t n;
    if (dq != NULL && sl_raft_wire_describe_quorum_decode(&ctx, dq, &arena, &q, &n) == 0 &&
        n == 1 && q[0].error_code == 0 && q[0].group.partition == 0 &&
        strcmp(q[0].group.topic_name, SL_RAFT_WIRE_METADATA_TOPIC) == 0)
        printf("ok describe_quorum_request_v2.bin\n");
    else
        failures++;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "emit") != 0 && strcmp(argv[1], "check") != 0)) {
        fprintf(stderr, "usage: raft_wire_exchange emit|check DIR\n");
        return 2;
    }
    sl_arena_init(&arena, 16u << 20);
    sl_raft_group_key_t meta = {SL_RAFT_WIRE_METADATA_TOPIC, sl_raft_wire_metadata_topic_id, 0};
    if (strcmp(argv[1], "emit") == 0) {
        emit_requests(argv[2], meta);
        emit_responses(argv[2], meta);
    } else {
        check_all(argv[2]);
    }
    sl_arena_deinit(&arena);
    return failures == 0 ? 0 : 1;
}
