/* OffsetCommit (key 8, versions 0-9): the group checks (generation, member, rebalance state) come
 * from the coordinator, then every partition is checked (known topic and partition, metadata at
 * most offset.metadata.max.bytes). Accepted offsets are written to __consumer_offsets and stored
 * once that write is durable (sl__offsets_commit_submit), so an answered commit survives a crash.
 * The answer lists unknown topics and partitions first, as Kafka's request layer does. */
#include "../broker_int.h"

#define SL_OFFSET_METADATA_MAX_BYTES 4096

static int16_t partition_error(sl_request_t *req, sl_slice_t topic_name,
                               const sl_offset_commit_request_partition_t *p)
{
    sl_topic_t *topic = sl__topics_find(req->broker->topics, topic_name);
    if (topic == NULL || p->partition_index < 0 || p->partition_index >= topic->partition_count)
        return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (p->committed_metadata.len > SL_OFFSET_METADATA_MAX_BYTES)
        return SL_KERR_OFFSET_METADATA_TOO_LARGE;
    return SL_KERR_NONE;
}

static sl_group_offset_t offset_of(const sl_offset_commit_request_partition_t *p, int16_t v,
                                   int64_t now_ms)
{
    return (sl_group_offset_t){
        .offset = p->committed_offset,
        .leader_epoch = v >= 6 ? p->committed_leader_epoch : -1,
        .metadata =
            p->committed_metadata.ptr != NULL ? p->committed_metadata : sl_slice_from_str(""),
        .commit_timestamp_ms = v == 1 && p->commit_timestamp >= 0 ? p->commit_timestamp : now_ms,
    };
}

typedef struct commit_ctx {
    sl_request_t *req;
    const sl_offset_commit_request_t *in;
    int16_t group_err;
    sl__offsets_commit_t *commit;
    sl_offset_commit_response_topic_t *ts;
    size_t *slot; /* input topic -> answer entry, SIZE_MAX until it has one */
    size_t used;
    int64_t now_ms;
} commit_ctx_t;

/* One pass over the request: unknown partitions (first pass) or the rest (second). */
static int commit_pass(commit_ctx_t *ctx, bool unknown_pass)
{
    const sl_offset_commit_request_t *in = ctx->in;
    for (size_t t = 0; t < (size_t)SL_MAX(in->topics_count, 0); t++) {
        const sl_offset_commit_request_topic_t *it = &in->topics[t];
        for (size_t i = 0; i < (size_t)SL_MAX(it->partitions_count, 0); i++) {
            const sl_offset_commit_request_partition_t *p = &it->partitions[i];
            int16_t err = partition_error(ctx->req, it->name, p);
            if ((err == SL_KERR_UNKNOWN_TOPIC_OR_PARTITION) != unknown_pass)
                continue;
            if (err == SL_KERR_NONE)
                err = ctx->group_err;
            if (ctx->slot[t] == SIZE_MAX) {
                size_t np = (size_t)it->partitions_count;
                sl_offset_commit_response_partition_t *ps =
                    sl_arena_alloc(&ctx->req->arena, np * sizeof(*ps));
                if (ps == NULL)
                    return SL_ELIMIT;
                ctx->slot[t] = ctx->used;
                ctx->ts[ctx->used++] = (sl_offset_commit_response_topic_t){it->name, ps, 0};
            }
            sl_offset_commit_response_topic_t *o = &ctx->ts[ctx->slot[t]];
            sl_offset_commit_response_partition_t *op = &o->partitions[o->partitions_count++];
            *op = (sl_offset_commit_response_partition_t){p->partition_index, err};
            if (err != SL_KERR_NONE)
                continue;
            sl_group_offset_t off = offset_of(p, ctx->req->header.api_version, ctx->now_ms);
            int rc = sl__offsets_commit_add(ctx->commit, it->name, p->partition_index, &off, op);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int sl__handle_offset_commit(sl_request_t *req, const void *request, void *response)
{
    const sl_offset_commit_request_t *in = request;
    sl_offset_commit_response_t *out = response;
    int16_t v = req->header.api_version;
    int32_t generation = v >= 1 ? in->generation_id_or_member_epoch : -1;
    sl_slice_t member = v >= 1 ? in->member_id : sl_slice_from_str("");
    sl_slice_t instance = v >= 7 ? in->group_instance_id : SL_SLICE_NULL;
    size_t nt = in->topics_count > 0 ? (size_t)in->topics_count : 0;
    sl_kerr_t coordinator = sl__groups_coordinator_error(req->broker, in->group_id);
    commit_ctx_t ctx = {
        .req = req,
        .in = in,
        .group_err = coordinator != SL_KERR_NONE
                         ? coordinator
                         : sl_group_commit_check(req->broker->groups->coord, in->group_id,
                                                 generation, member, instance),
        .commit = sl__offsets_commit_new(req, in->group_id),
        .ts = sl_arena_alloc(&req->arena, (nt + 1) * sizeof(*ctx.ts)),
        .slot = sl_arena_alloc(&req->arena, (nt + 1) * sizeof(*ctx.slot)),
        .now_ms = sl_clock_realtime_ms(),
    };
    if (ctx.commit == NULL || ctx.ts == NULL || ctx.slot == NULL)
        return SL_ELIMIT;
    for (size_t t = 0; t < nt; t++)
        ctx.slot[t] = SIZE_MAX;
    int rc = commit_pass(&ctx, true);
    if (rc == 0)
        rc = commit_pass(&ctx, false);
    if (rc != 0)
        return rc;
    out->throttle_time_ms = 0;
    out->topics = ctx.ts;
    out->topics_count = (int32_t)ctx.used;
    return sl__offsets_commit_submit(ctx.commit);
}
