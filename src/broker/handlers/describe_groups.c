/* DescribeGroups (key 15, versions 0-5): state, protocol and members; member metadata and
 * assignments only while Stable (as Kafka). An unknown group is described as Dead with no error;
 * an empty id is a group id like any other (as Kafka). Authorized operations (v3+, when asked):
 * without an authorizer, every group operation (READ, DESCRIBE, DELETE). */
#include <string.h>

#include "../broker_int.h"

#define SL_GROUP_OPERATIONS ((1 << 3) | (1 << 6) | (1 << 8))

static sl_slice_t arena_copy(sl_arena_t *arena, sl_slice_t s)
{
    if (s.ptr == NULL || s.len == 0)
        return s;
    uint8_t *p = sl_arena_alloc(arena, s.len);
    if (p == NULL)
        return SL_SLICE_NULL;
    memcpy(p, s.ptr, s.len);
    return (sl_slice_t){p, s.len};
}

static int describe_one(sl_request_t *req, sl_slice_t id, bool ops,
                        sl_describe_groups_response_described_group_t *o)
{
    sl_slice_t empty = sl_slice_from_str("");
    *o = (sl_describe_groups_response_described_group_t){
        .group_id = id,
        .group_state = sl_slice_from_str("Dead"),
        .protocol_type = empty,
        .protocol_data = empty,
        .authorized_operations = ops ? SL_GROUP_OPERATIONS : INT32_MIN,
    };
    o->error_code = sl__groups_coordinator_error(req->broker, id);
    sl_group_view_t v;
    if (o->error_code != SL_KERR_NONE || !sl_group_describe(req->broker->groups->coord, id, &v))
        return 0;
    sl_arena_t *a = &req->arena;
    o->group_state = sl_slice_from_str(sl_group_state_name(v.state));
    o->protocol_type = arena_copy(a, v.protocol_type);
    o->protocol_data = arena_copy(a, v.protocol_name);
    sl_described_group_member_t *ms = sl_arena_alloc(a, (v.members_count + 1) * sizeof(*ms));
    if (ms == NULL)
        return SL_ELIMIT;
    /* copies: the views are valid only until the next call into the coordinator */
    for (size_t i = 0; i < v.members_count; i++) {
        const sl_group_member_view_t *m = &v.members[i];
        ms[i] = (sl_described_group_member_t){
            arena_copy(a, m->member_id), arena_copy(a, m->instance_id),
            arena_copy(a, m->client_id), arena_copy(a, m->client_host),
            arena_copy(a, m->metadata),  arena_copy(a, m->assignment),
        };
    }
    o->members = ms;
    o->members_count = (int32_t)v.members_count;
    return 0;
}

int sl__handle_describe_groups(sl_request_t *req, const void *request, void *response)
{
    const sl_describe_groups_request_t *in = request;
    sl_describe_groups_response_t *out = response;
    size_t n = in->groups_count > 0 ? (size_t)in->groups_count : 0;
    sl_describe_groups_response_described_group_t *gs =
        sl_arena_alloc(&req->arena, (n + 1) * sizeof(*gs));
    if (gs == NULL)
        return SL_ELIMIT;
    bool ops = req->header.api_version >= 3 && in->include_authorized_operations;
    for (size_t i = 0; i < n; i++) {
        int rc = describe_one(req, in->groups[i], ops, &gs[i]);
        if (rc != 0)
            return rc;
    }
    out->throttle_time_ms = 0;
    out->groups = gs;
    out->groups_count = (int32_t)n;
    return 0;
}
