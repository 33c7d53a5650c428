/* FindCoordinator (key 10, versions 0-6): a group's coordinator is the leader of its
 * __consumer_offsets partition: on a single node this node (it owns every partition, created here
 * on first use as Kafka does), reached through the listener the client used. A replicated
 * partition led elsewhere answers COORDINATOR_NOT_AVAILABLE (retriable) until this broker can name
 * the leader's endpoint (from the cluster's metadata image).
 * v4+ batches keys. Key type 1 (transaction) answers COORDINATOR_NOT_AVAILABLE, what Kafka says
 * while its transaction coordinator is not ready: Sluice has none yet. Other key types (2: share
 * groups) are INVALID_REQUEST. */
#include "../broker_int.h"

static int16_t coordinator_error(int8_t key_type)
{
    if (key_type == 0)
        return SL_KERR_NONE;
    return key_type == 1 ? SL_KERR_COORDINATOR_NOT_AVAILABLE : SL_KERR_INVALID_REQUEST;
}

/* A group key's answer: this node, or COORDINATOR_NOT_AVAILABLE when another broker leads the
 * group's partition (or nobody does yet). */
static int16_t group_error(sl_request_t *req, int16_t err, sl_slice_t group_id)
{
    if (err != SL_KERR_NONE)
        return err;
    return sl__groups_coordinator_id(req->broker, group_id) == req->broker->cfg->node_id
               ? SL_KERR_NONE
               : SL_KERR_COORDINATOR_NOT_AVAILABLE;
}

int sl__handle_find_coordinator(sl_request_t *req, const void *request, void *response)
{
    const sl_find_coordinator_request_t *in = request;
    sl_find_coordinator_response_t *out = response;
    const sl_endpoint_t *ep = &req->broker->advertised[req->listener_index];
    int32_t node = req->broker->cfg->node_id;
    sl_slice_t host = sl_slice_from_str(ep->host);
    int16_t err = coordinator_error(in->key_type);
    if (err == SL_KERR_NONE && !sl__groups_available(req->broker))
        err = SL_KERR_COORDINATOR_NOT_AVAILABLE;
    out->throttle_time_ms = 0;
    if (req->header.api_version < 4) {
        err = group_error(req, err, in->key);
        /* Kafka says "NONE" on success in v1-3 */
        sl_slice_t msg = sl_slice_from_str(err != SL_KERR_NONE ? sl_kerr_message(err) : "NONE");
        out->error_code = err;
        out->error_message = msg;
        out->node_id = err == SL_KERR_NONE ? node : -1;
        out->host = err == SL_KERR_NONE ? host : sl_slice_from_str("");
        out->port = err == SL_KERR_NONE ? ep->port : -1;
        return 0;
    }
    size_t n = in->coordinator_keys_count > 0 ? (size_t)in->coordinator_keys_count : 0;
    sl_find_coordinator_response_coordinator_t *cs =
        sl_arena_alloc(&req->arena, (n + 1) * sizeof(*cs));
    if (cs == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        int16_t key_err = group_error(req, err, in->coordinator_keys[i]);
        cs[i] = (sl_find_coordinator_response_coordinator_t){
            .key = in->coordinator_keys[i],
            .node_id = key_err == SL_KERR_NONE ? node : -1,
            .host = key_err == SL_KERR_NONE ? host : sl_slice_from_str(""),
            .port = key_err == SL_KERR_NONE ? ep->port : -1,
            .error_code = key_err,
            .error_message = key_err != SL_KERR_NONE ? sl_slice_from_str(sl_kerr_message(key_err))
                                                     : sl_slice_from_str(""), /* as Kafka */
        };
    }
    out->coordinators = cs;
    out->coordinators_count = (int32_t)n;
    return 0;
}
