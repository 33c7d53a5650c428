/* JoinGroup (key 11, versions 0-9): hands the join to the coordinator; a join that must wait for
 * the rest of the group stays pending until the coordinator's callback answers it (the round
 * completes, the rebalance timeout passes, or the broker stops). v4+ gets the MEMBER_ID_REQUIRED
 * handshake; v5+ carries group.instance.id; v7+ names the protocol type; v9 may skip assignment. */
#include "../broker_int.h"

typedef struct join_op {
    sl_group_waiter_t w;
    sl_request_t *req;
} join_op_t;

/* Copies what the leader needs into the request's arena (the result borrows the coordinator). */
static int join_fill(sl_request_t *req, const sl_group_join_result_t *res)
{
    sl_join_group_response_t *out = req->response;
    int16_t v = req->header.api_version;
    out->throttle_time_ms = 0;
    out->error_code = res->error;
    out->generation_id = res->generation;
    out->protocol_type = res->protocol_type;
    out->protocol_name = res->protocol_name;
    if (v < 7 && out->protocol_name.ptr == NULL)
        out->protocol_name = sl_slice_from_str("");
    out->leader = res->leader;
    out->member_id = res->member_id.ptr != NULL ? res->member_id : sl_slice_from_str("");
    out->skip_assignment = v >= 9 && res->skip_assignment;
    sl_join_group_response_member_t *ms =
        sl_arena_alloc(&req->arena, (res->members_count + 1) * sizeof(*ms));
    if (ms == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < res->members_count; i++)
        ms[i] = (sl_join_group_response_member_t){
            res->members[i].member_id, res->members[i].instance_id, res->members[i].metadata};
    out->members = ms;
    out->members_count = (int32_t)res->members_count;
    return 0;
}

static void join_done(sl_group_waiter_t *w, const sl_group_join_result_t *res)
{
    join_op_t *op = w->data;
    int rc = join_fill(op->req, res);
    sl__request_finish(op->req, rc);
}

int sl__handle_join_group(sl_request_t *req, const void *request, void *response)
{
    const sl_join_group_request_t *in = request;
    (void)response; /* join_fill fills req->response */
    sl_kerr_t coordinator = sl__groups_coordinator_error(req->broker, in->group_id);
    if (coordinator != SL_KERR_NONE) {
        sl_group_join_result_t res = {.error = coordinator,
                                      .generation = -1,
                                      .protocol_name = SL_SLICE_NULL,
                                      .leader = sl_slice_from_str(""),
                                      .member_id = in->member_id};
        return join_fill(req, &res);
    }
    size_t n = in->protocols_count > 0 ? (size_t)in->protocols_count : 0;
    sl_group_protocol_t *ps = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*ps));
    join_op_t *op = sl_arena_alloc(&req->arena, sizeof(*op));
    if (ps == NULL || op == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++)
        ps[i] = (sl_group_protocol_t){in->protocols[i].name, in->protocols[i].metadata};
    sl_slice_t client_id = req->header.client_id;
    sl_group_join_args_t a = {
        .group_id = in->group_id,
        .member_id = in->member_id,
        .instance_id = req->header.api_version >= 5 ? in->group_instance_id : SL_SLICE_NULL,
        .client_id = client_id.ptr != NULL ? client_id : sl_slice_from_str(""),
        .client_host = sl__groups_client_host(req),
        .protocol_type = in->protocol_type,
        .protocols = ps,
        .protocols_count = n,
        .session_timeout_ms = in->session_timeout_ms,
        .rebalance_timeout_ms = req->header.api_version >= 1 ? in->rebalance_timeout_ms : -1,
        .require_known_member_id = req->header.api_version >= 4,
    };
    *op = (join_op_t){.w = {.join_cb = join_done, .data = op}, .req = req};
    sl_group_join_result_t res;
    bool now = sl_group_join(req->broker->groups->coord, &a, &op->w, &res);
    int rc = now ? join_fill(req, &res) : 0;
    req->pending = !now;
    sl__groups_arm(req->broker);
    return rc;
}
