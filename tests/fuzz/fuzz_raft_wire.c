/* fuzz_raft_wire: Raft requests and responses from the wire through raft_wire's decoders.
 * Input: byte 0 = which (bits 0-1: Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch; bit 2: the
 * response), byte 1 = version (mapped into the API's range), then the body. A body the generated
 * decoder accepts goes through sl_raft_wire_request_decode or _response_decode; nothing may
 * crash, over-read or assert; fetched batches must lie inside the records they came from and
 * follow each other; and a request's core messages, encoded again at the same version, must
 * decode to the same messages (the mapping loses nothing the core uses). */
#include <stdlib.h>
#include <string.h>

#include "replication/raft_wire.h"

#define FUZZ_ARENA_BYTES (4 * SL_MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int16_t apis[4] = {SL_API_VOTE, SL_API_BEGIN_QUORUM_EPOCH, SL_API_END_QUORUM_EPOCH,
                                SL_API_FETCH};

/* Hosts every even partition of every topic, under one name per topic id or name length. */
static int16_t find_even(void *data, sl_slice_t topic_name, const sl_uuid_t *topic_id,
                         int32_t partition, sl_raft_group_key_t *key)
{
    (void)data;
    static const char *const names[4] = {"a", "b", "__cluster_metadata", "d"};
    if (partition % 2 != 0)
        return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    size_t pick = topic_name.len > 0 ? topic_name.len % 4 : topic_id->bytes[15] % 4u;
    *key = (sl_raft_group_key_t){names[pick], *topic_id, partition};
    return SL_KERR_NONE;
}

static void check_batches(const sl_raft_wire_msg_t *w, const void *response)
{
    (void)response;
    const sl_raft_fetch_response_t *r = &w->msg.u.fetch_response;
    const uint8_t *prev_end = NULL;
    for (size_t i = 0; i < r->batch_count; i++) {
        const uint8_t *p = r->batches[i].payload;
        if (p == NULL || r->batches[i].record_count < 1 || (prev_end != NULL && p != prev_end))
            abort();
        uint32_t length =
            (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
        prev_end = p + length + 12;
    }
    if (w->status != 0 && w->status != SL_EMALFORMED)
        abort();
}

/* Encodes the core messages of a decoded request again and checks they decode unchanged. */
static void check_request_round_trip(const sl_raft_wire_ctx_t *ctx, int16_t api_key,
                                     int16_t version, const sl_raft_wire_decoded_t *in,
                                     sl_arena_t *arena)
{
    sl_raft_wire_msg_t *msgs = sl_arena_alloc(arena, (in->count + 1) * sizeof(*msgs));
    const sl_api_info_t *api = sl_api_info(api_key);
    void *req = sl_arena_alloc(arena, api->request_struct_size);
    if (msgs == NULL || req == NULL)
        return;
    size_t n = 0;
    for (size_t i = 0; i < in->count; i++)
        if (!in->msgs[i].answered)
            msgs[n++] = in->msgs[i];
    if (n == 0 || sl_raft_wire_request_encode(ctx, msgs, n, version, arena, req) != 0)
        return;
    size_t len = sl_message_size(api->request, version, req);
    uint8_t *buf = malloc(len + 1);
    if (buf == NULL)
        abort();
    sl_writer_t w;
    sl_writer_init(&w, buf, len);
    void *again = sl_arena_alloc(arena, api->request_struct_size);
    sl_raft_wire_decoded_t out;
    sl_reader_t r;
    sl_reader_init(&r, buf, len);
    if (sl_message_encode(api->request, &w, version, req) != 0 || again == NULL ||
        sl_message_decode(api->request, &r, arena, version, again) != 0)
        abort();
    bool *matched = sl_arena_alloc(arena, n + 1);
    if (matched == NULL ||
        sl_raft_wire_request_decode(ctx, api_key, version, 1, again, arena, &out) != 0) {
        free(buf);
        return;
    }
    if (out.count != n)
        abort();
    memset(matched, 0, n);
    /* same messages; the order may differ where topics merged under one name */
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        for (; j < n; j++) {
            const sl_raft_msg_t *a = &msgs[i].msg, *b = &out.msgs[j].msg;
            if (!matched[j] && a->type == b->type && a->source_id == b->source_id &&
                msgs[i].group.partition == out.msgs[j].group.partition &&
                memcmp(&a->u, &b->u, sizeof a->u) == 0)
                break;
        }
        if (j == n)
            abort();
        matched[j] = true;
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int16_t api_key = apis[data[0] & 3];
    bool response = (data[0] & 4) != 0;
    const sl_api_info_t *api = sl_api_info(api_key);
    int range = api->version_max - api->version_min + 1;
    int16_t version = (int16_t)(api->version_min + (int)(data[1] % (unsigned)range));
    size_t len = size - 2;
    uint8_t *body = malloc(len + 1); /* exact size: ASan sees any over-read */
    if (body == NULL)
        return 0;
    memcpy(body, data + 2, len);
    sl_arena_t arena;
    sl_arena_init(&arena, FUZZ_ARENA_BYTES);
    const sl_message_desc_t *d = response ? api->response : api->request;
    void *m = sl_arena_alloc(&arena, d->struct_size);
    sl_reader_t r;
    sl_reader_init(&r, body, len);
    sl_raft_wire_ctx_t ctx = {.local_id = 1, .cluster_id = "c", .find_group = find_even};
    sl_raft_wire_decoded_t out;
    if (m != NULL && sl_message_decode(d, &r, &arena, version, m) == 0) {
        if (!response &&
            sl_raft_wire_request_decode(&ctx, api_key, version, 7, m, &arena, &out) == 0)
            check_request_round_trip(&ctx, api_key, version, &out, &arena);
        if (response &&
            sl_raft_wire_response_decode(&ctx, api_key, version, 2, 7, m, &arena, &out) == 0 &&
            api_key == SL_API_FETCH)
            for (size_t i = 0; i < out.count; i++)
                check_batches(&out.msgs[i], m);
    }
    /* the records parser alone, on the raw body */
    sl_raft_batch_t batches[64];
    size_t n;
    int rc = sl_raft_wire_batches_parse((sl_slice_t){body, len}, batches, 64, &n);
    if ((rc != 0 && rc != SL_EMALFORMED) || n > 64)
        abort();
    sl_arena_deinit(&arena);
    free(body);
    return 0;
}
