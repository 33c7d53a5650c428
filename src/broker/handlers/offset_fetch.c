/* OffsetFetch (key 9, versions 0-9): committed offsets with metadata and leader epoch (v5+);
 * partitions without one answer offset -1. A null topic list (v2+) means every committed offset of
 * the group. v8+ asks for several groups at once. require_stable (v7+) needs nothing without
 * transactions. */
#include <string.h>

#include "../broker_int.h"

/* The two layouts (v0-7 and v8+) share field order; this is the wider one. */
typedef struct part_out {
    int32_t partition_index;
    int64_t committed_offset;
    int32_t committed_leader_epoch;
    sl_slice_t metadata;
    int16_t error_code;
} part_out_t;

static void part_fill(sl_group_coordinator_t *coord, sl_slice_t group, sl_slice_t topic,
                      int32_t partition, part_out_t *o)
{
    sl_group_offset_t off;
    *o = (part_out_t){partition, -1, -1, sl_slice_from_str(""), SL_KERR_NONE};
    if (sl_group_offset_get(coord, group, topic, partition, &off)) {
        o->committed_offset = off.offset;
        o->committed_leader_epoch = off.leader_epoch;
        o->metadata = off.metadata;
    }
}

/* Every committed offset of a group, grouped by topic (the coordinator lists them sorted). */
typedef struct all_ctx {
    sl_arena_t *arena;
    sl_slice_t *topics;
    part_out_t **parts;
    int32_t *counts;
    size_t topics_count, cap;
    bool failed;
} all_ctx_t;

static bool all_add(sl_slice_t topic, int32_t partition, const sl_group_offset_t *off, void *data)
{
    all_ctx_t *a = data;
    if (a->topics_count == 0 || !sl_slice_eq(a->topics[a->topics_count - 1], topic)) {
        if (a->topics_count == a->cap) {
            a->failed = true;
            return false;
        }
        a->topics[a->topics_count] = topic;
        a->parts[a->topics_count] = NULL;
        a->counts[a->topics_count++] = 0;
    }
    size_t t = a->topics_count - 1;
    int32_t n = a->counts[t];
    part_out_t *grown = sl_arena_alloc(a->arena, ((size_t)n + 1) * sizeof(*grown));
    if (grown == NULL) {
        a->failed = true;
        return false;
    }
    if (n > 0)
        memcpy(grown, a->parts[t], (size_t)n * sizeof(*grown));
    grown[n] = (part_out_t){partition, off->offset, off->leader_epoch, off->metadata, 0};
    a->parts[t] = grown;
    a->counts[t] = n + 1;
    return true;
}

/* Fills topics for one group: names/partitions as asked, or all when names is NULL. Response
 * topic structs of both layouts are {name, partitions, partitions_count}. */
typedef struct topic_out {
    sl_slice_t name;
    part_out_t *partitions;
    int32_t partitions_count;
} topic_out_t;

_Static_assert(sizeof(part_out_t) == sizeof(sl_offset_fetch_response_partition_t), "layout");
_Static_assert(sizeof(part_out_t) == sizeof(sl_offset_fetch_response_partitions_t), "layout");
_Static_assert(sizeof(topic_out_t) == sizeof(sl_offset_fetch_response_topic_t), "layout");
_Static_assert(sizeof(topic_out_t) == sizeof(sl_offset_fetch_response_topics_t), "layout");

static bool count_each(sl_slice_t topic, int32_t partition, const sl_group_offset_t *o, void *data)
{
    (void)topic; /* counted only: one topic per offset is an upper bound */
    (void)partition;
    (void)o;
    ++*(size_t *)data;
    return true;
}

static int group_all(sl_request_t *req, sl_slice_t group, topic_out_t **out, int32_t *count)
{
    sl_group_coordinator_t *coord = req->broker->groups->coord;
    size_t n = 0;
    sl_group_offsets_each(coord, group, count_each, &n);
    all_ctx_t a = {.arena = &req->arena, .cap = n};
    a.topics = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*a.topics));
    a.parts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*a.parts));
    a.counts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*a.counts));
    topic_out_t *ts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*ts));
    if (a.topics == NULL || a.parts == NULL || a.counts == NULL || ts == NULL)
        return SL_ELIMIT;
    sl_group_offsets_each(coord, group, all_add, &a);
    if (a.failed)
        return SL_ELIMIT;
    for (size_t i = 0; i < a.topics_count; i++)
        ts[i] = (topic_out_t){a.topics[i], a.parts[i], a.counts[i]};
    *out = ts;
    *count = (int32_t)a.topics_count;
    return 0;
}

/* names[i], parts[i][0..counts[i]) as asked. */
static int group_some(sl_request_t *req, sl_slice_t group, const sl_slice_t *names,
                      int32_t *const *parts, const int32_t *counts, size_t n, topic_out_t **out)
{
    topic_out_t *ts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*ts));
    if (ts == NULL)
        return SL_ELIMIT;
    for (size_t t = 0; t < n; t++) {
        size_t np = counts[t] > 0 ? (size_t)counts[t] : 0;
        part_out_t *ps = sl_arena_alloc(&req->arena, (np + 1) * sizeof(*ps));
        if (ps == NULL)
            return SL_ELIMIT;
        for (size_t i = 0; i < np; i++)
            part_fill(req->broker->groups->coord, group, names[t], parts[t][i], &ps[i]);
        ts[t] = (topic_out_t){names[t], ps, (int32_t)np};
    }
    *out = ts;
    return 0;
}

static int fetch_old(sl_request_t *req, const sl_offset_fetch_request_t *in,
                     sl_offset_fetch_response_t *out)
{
    topic_out_t *ts = NULL;
    int32_t count = 0;
    int rc;
    sl_kerr_t coordinator = sl__groups_coordinator_error(req->broker, in->group_id);
    if (in->topics_count < 0) {
        rc = group_all(req, in->group_id, &ts, &count);
    } else {
        size_t n = (size_t)in->topics_count;
        sl_slice_t *names = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*names));
        int32_t **parts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*parts));
        int32_t *counts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*counts));
        if (names == NULL || parts == NULL || counts == NULL)
            return SL_ELIMIT;
        for (size_t i = 0; i < n; i++) {
            names[i] = in->topics[i].name;
            parts[i] = in->topics[i].partition_indexes;
            counts[i] = in->topics[i].partition_indexes_count;
        }
        rc = group_some(req, in->group_id, names, parts, counts, n, &ts);
        count = (int32_t)n;
    }
    if (rc != 0)
        return rc;
    /* Not the coordinator: v2+ clients read the top-level error, v0-1 each partition's. */
    out->error_code = coordinator;
    for (int32_t t = 0; coordinator != SL_KERR_NONE && t < count; t++)
        for (int32_t i = 0; i < ts[t].partitions_count; i++)
            ts[t].partitions[i].error_code = coordinator;
    out->topics = (sl_offset_fetch_response_topic_t *)(void *)ts;
    out->topics_count = count;
    return 0;
}

static int fetch_group(sl_request_t *req, const sl_offset_fetch_request_group_t *g,
                       sl_offset_fetch_response_group_t *o)
{
    topic_out_t *ts = NULL;
    int32_t count = 0;
    int rc;
    *o = (sl_offset_fetch_response_group_t){.group_id = g->group_id};
    o->error_code = sl__groups_coordinator_error(req->broker, g->group_id);
    if (o->error_code != SL_KERR_NONE)
        return 0;
    if (g->topics_count < 0) {
        rc = group_all(req, g->group_id, &ts, &count);
    } else {
        size_t n = (size_t)g->topics_count;
        sl_slice_t *names = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*names));
        int32_t **parts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*parts));
        int32_t *counts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*counts));
        if (names == NULL || parts == NULL || counts == NULL)
            return SL_ELIMIT;
        for (size_t i = 0; i < n; i++) {
            names[i] = g->topics[i].name;
            parts[i] = g->topics[i].partition_indexes;
            counts[i] = g->topics[i].partition_indexes_count;
        }
        rc = group_some(req, g->group_id, names, parts, counts, n, &ts);
        count = (int32_t)n;
    }
    if (rc != 0)
        return rc;
    o->topics = (sl_offset_fetch_response_topics_t *)(void *)ts;
    o->topics_count = count;
    return 0;
}

int sl__handle_offset_fetch(sl_request_t *req, const void *request, void *response)
{
    const sl_offset_fetch_request_t *in = request;
    sl_offset_fetch_response_t *out = response;
    out->throttle_time_ms = 0;
    if (req->header.api_version < 8)
        return fetch_old(req, in, out);
    size_t n = in->groups_count > 0 ? (size_t)in->groups_count : 0;
    sl_offset_fetch_response_group_t *gs = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*gs));
    if (gs == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        int rc = fetch_group(req, &in->groups[i], &gs[i]);
        if (rc != 0)
            return rc;
    }
    out->groups = gs;
    out->groups_count = (int32_t)n;
    return 0;
}
