/* DescribeCluster (key 60) on a controller listener, as KIP-919 has Kafka's controllers answer it
 * for tools started with --bootstrap-controller (kafka-metadata-quorum.sh): the voters with their
 * controller endpoints and, as the controller id, the metadata quorum's current leader. Client
 * listeners do not serve it yet (dispatch.c). */
#include "../broker_int.h"

#define ENDPOINT_TYPE_CONTROLLER 2

int sl__handle_describe_cluster(sl_request_t *req, const void *request, void *response)
{
    const sl_describe_cluster_request_t *in = request;
    sl_describe_cluster_response_t *out = response;
    const sl_config_t *cfg = req->broker->cfg;
    out->throttle_time_ms = 0;
    out->endpoint_type = ENDPOINT_TYPE_CONTROLLER;
    out->cluster_id = sl_slice_from_str(req->broker->cluster_id_text);
    if (req->header.api_version >= 1 && in->endpoint_type != ENDPOINT_TYPE_CONTROLLER) {
        out->error_code = SL_KERR_MISMATCHED_ENDPOINT_TYPE;
        out->error_message = sl_slice_from_str("The request was sent to an endpoint of type "
                                               "CONTROLLER, but we wanted an endpoint of type "
                                               "BROKER");
        out->brokers_count = 0;
        return 0;
    }
    sl_quorum_status_t q;
    sl_metadata_quorum_status(req->broker->quorum, &q);
    out->controller_id = q.leader_id;
    sl_describe_cluster_broker_t *voters =
        sl_arena_alloc(&req->arena, SL_MAX(cfg->quorum_voter_count, 1) * sizeof(*voters));
    if (voters == NULL)
        return SL_ELIMIT;
    for (size_t i = 0; i < cfg->quorum_voter_count; i++) {
        sl_describe_cluster_broker_init(&voters[i]);
        voters[i].broker_id = cfg->quorum_voters[i].node_id;
        voters[i].host = sl_slice_from_str(cfg->quorum_voters[i].host);
        voters[i].port = cfg->quorum_voters[i].port;
    }
    out->brokers = voters;
    out->brokers_count = (int32_t)cfg->quorum_voter_count;
    return 0;
}
