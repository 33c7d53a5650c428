/* LeaveGroup (key 13, versions 0-5): v0-2 name one member; v3+ a batch (static members may be
 * named by group.instance.id alone), each with its own error. */
#include "../broker_int.h"

int sl__handle_leave_group(sl_request_t *req, const void *request, void *response)
{
    const sl_leave_group_request_t *in = request;
    sl_leave_group_response_t *out = response;
    sl_group_coordinator_t *coord = req->broker->groups->coord;
    out->throttle_time_ms = 0;
    out->error_code = sl__groups_coordinator_error(req->broker, in->group_id);
    if (out->error_code != SL_KERR_NONE)
        return 0; /* v3+: no members answered, as Kafka */
    if (req->header.api_version < 3) {
        out->error_code = sl_group_leave(coord, in->group_id, in->member_id, SL_SLICE_NULL);
        sl__groups_arm(req->broker);
        return 0;
    }
    size_t n = in->members_count > 0 ? (size_t)in->members_count : 0;
    sl_member_response_t *rs = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*rs));
    if (rs == NULL)
        return SL_ELIMIT;
    if (in->group_id.len == 0)
        out->error_code = SL_KERR_INVALID_GROUP_ID;
    for (size_t i = 0; i < n; i++) {
        const sl_member_identity_t *m = &in->members[i];
        rs[i] = (sl_member_response_t){m->member_id, m->group_instance_id, SL_KERR_NONE};
        if (out->error_code == SL_KERR_NONE)
            rs[i].error_code =
                sl_group_leave(coord, in->group_id, m->member_id, m->group_instance_id);
    }
    out->members = rs;
    out->members_count = out->error_code == SL_KERR_NONE ? (int32_t)n : 0;
    sl__groups_arm(req->broker);
    return 0;
}
