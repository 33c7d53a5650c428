/* DescribeCluster (key 60) on a controller listener, as KIP-919 has Kafka's controllers answer it
 * for tools started with --bootstrap-controller (kafka-metadata-quorum.sh): the voters with their
 * controller endpoints and, as the controller id, the metadata quorum's current leader. On a
 * client listener of a cluster (quorum mode) it answers as a Kafka broker does: the unfenced
 * brokers from the metadata image on that listener, and the controller id clients are given.
 * A single node does not serve it on client listeners (dispatch.c). */
#include <string.h>

#include "../broker_int.h"

#define ENDPOINT_TYPE_BROKER 1
#define ENDPOINT_TYPE_CONTROLLER 2

static int describe_brokers(sl_request_t *req, const sl_describe_cluster_request_t *in,
                            sl_describe_cluster_response_t *out)
{
    out->endpoint_type = ENDPOINT_TYPE_BROKER;
    if (req->header.api_version >= 1 && in->endpoint_type != ENDPOINT_TYPE_BROKER) {
        out->error_code = SL_KERR_MISMATCHED_ENDPOINT_TYPE;
        out->error_message = sl_slice_from_str("The request was sent to an endpoint of type "
                                               "BROKER, but we wanted an endpoint of type "
                                               "CONTROLLER");
        out->brokers_count = 0;
        return 0;
    }
    const sl_cluster_t *cluster = req->broker->cluster;
    const sl_metadata_image_t *img = sl__cluster_image(cluster);
    const char *listener = req->broker->advertised[req->listener_index].name;
    sl_describe_cluster_broker_t *b =
        sl_arena_alloc(&req->arena, sizeof(*b) * ((size_t)img->broker_count + 1));
    if (b == NULL)
        return SL_ELIMIT;
    int32_t n = 0;
    for (int32_t i = 0; i < img->broker_count; i++) {
        const sl_metadata_broker_t *mb = &img->brokers[i];
        for (int32_t e = 0; !mb->fenced && e < mb->endpoint_count; e++) {
            if (strcmp(mb->endpoints[e].name, listener) != 0)
                continue;
            sl_describe_cluster_broker_init(&b[n]);
            b[n].broker_id = mb->id;
            b[n].host = sl_slice_from_str(mb->endpoints[e].host);
            b[n].port = mb->endpoints[e].port;
            b[n].rack = mb->rack != NULL ? sl_slice_from_str(mb->rack) : SL_SLICE_NULL;
            n++;
            break;
        }
    }
    out->brokers = b;
    out->brokers_count = n;
    out->controller_id = sl__cluster_client_controller_id(cluster);
    return 0;
}

int sl__handle_describe_cluster(sl_request_t *req, const void *request, void *response)
{
    const sl_describe_cluster_request_t *in = request;
    sl_describe_cluster_response_t *out = response;
    const sl_config_t *cfg = req->broker->cfg;
    out->throttle_time_ms = 0;
    out->endpoint_type = ENDPOINT_TYPE_CONTROLLER;
    out->cluster_id = sl_slice_from_str(req->broker->cluster_id_text);
    if (!req->broker->controller_listener[req->listener_index] && req->broker->cluster != NULL)
        return describe_brokers(req, in, out);
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
