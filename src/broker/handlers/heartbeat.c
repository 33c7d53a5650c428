/* Heartbeat (key 12, versions 0-4): keeps a member's session alive and tells it when a rebalance
 * began (REBALANCE_IN_PROGRESS) or its generation is gone (ILLEGAL_GENERATION). */
#include "../broker_int.h"

int sl__handle_heartbeat(sl_request_t *req, const void *request, void *response)
{
    const sl_heartbeat_request_t *in = request;
    sl_heartbeat_response_t *out = response;
    sl_slice_t instance = req->header.api_version >= 3 ? in->group_instance_id : SL_SLICE_NULL;
    out->throttle_time_ms = 0;
    out->error_code = sl__groups_coordinator_error(req->broker, in->group_id);
    if (out->error_code != SL_KERR_NONE)
        return 0;
    out->error_code = sl_group_heartbeat(req->broker->groups->coord, in->group_id, in->member_id,
                                         instance, in->generation_id);
    sl__groups_arm(req->broker);
    return 0;
}
