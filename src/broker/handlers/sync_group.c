/* SyncGroup (key 14, versions 0-5): members wait for the leader's assignment; the leader's sync
 * completes the round and answers them all. v5+ echoes the protocol type and name. */
#include "../broker_int.h"

typedef struct sync_op {
    sl_group_waiter_t w;
    sl_request_t *req;
} sync_op_t;

static void sync_fill(sl_request_t *req, const sl_group_sync_result_t *res)
{
    sl_sync_group_response_t *out = req->response;
    out->throttle_time_ms = 0;
    out->error_code = res->error;
    out->protocol_type = res->error == SL_KERR_NONE ? res->protocol_type : SL_SLICE_NULL;
    out->protocol_name = res->error == SL_KERR_NONE ? res->protocol_name : SL_SLICE_NULL;
    out->assignment = res->assignment.ptr != NULL ? res->assignment : sl_slice_from_str("");
}

static void sync_done(sl_group_waiter_t *w, const sl_group_sync_result_t *res)
{
    sync_op_t *op = w->data;
    sync_fill(op->req, res);
    sl__request_finish(op->req, 0);
}

int sl__handle_sync_group(sl_request_t *req, const void *request, void *response)
{
    const sl_sync_group_request_t *in = request;
    (void)response; /* sync_fill fills req->response */
    sl_kerr_t coordinator = sl__groups_coordinator_error(req->broker, in->group_id);
    if (coordinator != SL_KERR_NONE) {
        sync_fill(req, &(sl_group_sync_result_t){.error = coordinator});
        return 0;
    }
    size_t n = in->assignments_count > 0 ? (size_t)in->assignments_count : 0;
    sl_slice_t *ids = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*ids));
    sl_slice_t *parts = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*parts));
    sync_op_t *op = sl_arena_alloc(&req->arena, sizeof(*op));
    if (ids == NULL || parts == NULL || op == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        ids[i] = in->assignments[i].member_id;
        parts[i] = in->assignments[i].assignment;
    }
    int16_t v = req->header.api_version;
    sl_group_sync_args_t a = {
        .group_id = in->group_id,
        .member_id = in->member_id,
        .instance_id = v >= 3 ? in->group_instance_id : SL_SLICE_NULL,
        .protocol_type = v >= 5 ? in->protocol_type : SL_SLICE_NULL,
        .protocol_name = v >= 5 ? in->protocol_name : SL_SLICE_NULL,
        .generation = in->generation_id,
        .assignment_members = ids,
        .assignments = parts,
        .assignments_count = n,
    };
    *op = (sync_op_t){.w = {.sync_cb = sync_done, .data = op}, .req = req};
    sl_group_sync_result_t res;
    bool now = sl_group_sync(req->broker->groups->coord, &a, &op->w, &res);
    if (now)
        sync_fill(req, &res);
    req->pending = !now;
    sl__groups_arm(req->broker);
    return 0;
}
