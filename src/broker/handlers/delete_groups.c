/* DeleteGroups (key 42, versions 0-2): an empty group goes with its committed offsets (tombstones
 * in __consumer_offsets); a group with members is NON_EMPTY_GROUP, an unknown one
 * GROUP_ID_NOT_FOUND. */
#include "../broker_int.h"

int sl__handle_delete_groups(sl_request_t *req, const void *request, void *response)
{
    const sl_delete_groups_request_t *in = request;
    sl_delete_groups_response_t *out = response;
    size_t n = in->groups_names_count > 0 ? (size_t)in->groups_names_count : 0;
    sl_deletable_group_result_t *rs = sl_arena_alloc(&req->arena, (n + 1) * sizeof(*rs));
    if (rs == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        sl_kerr_t err = sl__groups_coordinator_error(req->broker, in->groups_names[i]);
        if (err == SL_KERR_NONE)
            err = sl_group_delete(req->broker->groups->coord, in->groups_names[i]);
        rs[i] = (sl_deletable_group_result_t){in->groups_names[i], err};
    }
    out->throttle_time_ms = 0;
    out->results = rs;
    out->results_count = (int32_t)n;
    sl__groups_arm(req->broker);
    return 0;
}
